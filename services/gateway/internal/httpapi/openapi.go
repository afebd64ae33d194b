package httpapi

import (
	_ "embed"
	"net/http"
)

// OpenAPI is the OpenAPI 3 description of the REST API (openapi.yaml),
// served at GET /api/openapi.yaml and checked against real answers by
// the package's tests.
//
//go:embed openapi.yaml
var OpenAPI []byte

func (s *Server) handleOpenAPI() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(OpenAPI)
	})
}
