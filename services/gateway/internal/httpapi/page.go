package httpapi

import (
	"net/http"
	"net/url"
	"strconv"
)

// Pagination limits (docs/api.md): ?limit= defaults to 20 and is capped at 100.
const (
	defaultLimit = 20
	maxLimit     = 100
)

// page is a list request's ?limit= and opaque ?cursor= (passed to the
// service as it came).
type page struct {
	Limit  int32
	Cursor string
}

// readPage reads ?limit= and ?cursor=. A limit that is not a positive
// integer is a 400 {"limit": [...]}; one above max is capped.
func readPage(r *http.Request) (page, error) {
	return readPageMax(r, maxLimit)
}

// readPageMax is readPage with another cap (e.g. 200 for chat messages).
func readPageMax(r *http.Request, most int) (page, error) {
	q := r.URL.Query()
	p := page{Limit: defaultLimit, Cursor: q.Get("cursor")}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return page{}, fieldError("limit", "A valid positive integer is required.")
		}
		p.Limit = int32(min(n, most)) //nolint:gosec // G115: at most the route's page size
	}
	if len(p.Cursor) > 1024 {
		return page{}, fieldError("cursor", "Invalid cursor.")
	}
	return p, nil
}

// setNextLink announces the next page in a Link header (RFC 8288) when
// there is one: the same path and query with cursor replaced. The URL is
// relative to the request, so it is right behind any proxy.
func setNextLink(w http.ResponseWriter, r *http.Request, nextCursor string) {
	if link := nextLink(r.URL.Path, r.URL.Query(), nextCursor); link != "" {
		w.Header().Set("Link", link)
	}
}

// nextLink is setNextLink's header value for a request of path and query
// q ("" when nextCursor is: the last page). It sets q's cursor.
func nextLink(path string, q url.Values, nextCursor string) string {
	if nextCursor == "" {
		return ""
	}
	q.Set("cursor", nextCursor)
	u := url.URL{Path: path, RawQuery: q.Encode()}
	return "<" + u.String() + `>; rel="next"`
}

// servePage answers a list request: it reads ?limit= and ?cursor=, asks
// list for that page (its items and the next page's cursor), and writes
// the items converted by conv as a JSON array, with the Link header of the
// next page. A bad page or a failed call is answered by rpcError.
func servePage[T, J any](s *Server, w http.ResponseWriter, r *http.Request,
	list func(page) ([]T, string, error), conv func(T) J) {
	p, err := readPage(r)
	if err != nil {
		rpcError(w, r, s.log, err)
		return
	}
	items, next, err := list(p)
	if err != nil {
		rpcError(w, r, s.log, err)
		return
	}
	setNextLink(w, r, next)
	encode(w, http.StatusOK, convert(items, conv))
}
