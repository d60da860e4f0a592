package httpapi

// reportRoutes are the provider's report routes (being written).
func (s *Server) reportRoutes() []route { return nil }
