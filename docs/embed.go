// Package docs holds Ward's API description and the definitions of its
// public statistics, embedded so the server can serve them at
// /v1/openapi and /transparency/definitions.
package docs

import _ "embed"

// OpenAPI is the OpenAPI 3.1 document of the /v1 API.
//
//go:embed openapi.yaml
var OpenAPI []byte

// Statistics defines every figure of the transparency statistics, their
// roll-up and precision; the page /transparency links to it.
//
//go:embed statistics.md
var Statistics []byte
