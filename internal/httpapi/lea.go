package httpapi

// leaRoutes are the authorities' routes (being written).
func (s *Server) leaRoutes() []route { return nil }
