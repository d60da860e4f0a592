// Package docs holds Ward's API description, embedded so the server can
// serve it at /v1/openapi.
package docs

import _ "embed"

// OpenAPI is the OpenAPI 3.1 document of the /v1 API.
//
//go:embed openapi.yaml
var OpenAPI []byte
