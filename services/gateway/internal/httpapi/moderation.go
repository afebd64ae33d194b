package httpapi

import (
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	chatv1 "github.com/cobraspace/cobraspace/proto/cobraspace/chat/v1"
	"github.com/cobraspace/cobraspace/services/gateway/internal/auth"
	"github.com/cobraspace/cobraspace/services/gateway/internal/chatsocket/chatjson"
)

// moderationRoutes registers mutes, reports and direct messages
// (Conversations: DMs, moderation). Message search hooks into
// handleListMessages (?search=). The chat service enforces every rule;
// these handlers check the shape of requests and translate.
func (s *Server) moderationRoutes(mux *http.ServeMux) {
	s.route(mux, "POST /api/chat/room/{id}/mute/", s.requireAuth(s.handleMute()))
	s.route(mux, "POST /api/chat/message/{id}/report/", s.requireAuth(s.handleReport()))
	s.route(mux, "GET /api/chat/reports/", s.requireAuth(s.handleListReports()))
	s.route(mux, "POST /api/chat/dm/", s.requireAuth(s.handleOpenDM()))
}

// handleMute: POST room/<id>/mute/ {"user","minutes"} → 200
// {"room","user","until"} (until null when lifted); owner or staff only.
func (s *Server) handleMute() authedHandler {
	type request struct {
		User    *int64 `json:"user"`
		Minutes *int64 `json:"minutes"`
	}
	type response struct {
		Room  int64      `json:"room"`
		User  int64      `json:"user"`
		Until *time.Time `json:"until"`
	}
	return func(w http.ResponseWriter, r *http.Request, id auth.Identity) {
		roomID, ok := pathID(r, "id")
		if !ok {
			errorJSON(w, http.StatusNotFound, msgNotFound)
			return
		}
		req, ok := readRequest(s, w, r, func(req *request, errs map[string][]string) {
			userField(errs, req.User)
			switch {
			case req.Minutes == nil:
				errs["minutes"] = append(errs["minutes"], msgRequired)
			case *req.Minutes < 0 || *req.Minutes > 10080:
				errs["minutes"] = append(errs["minutes"], "Ensure this value is between 0 and 10080.")
			}
		})
		if !ok {
			return
		}
		resp, err := s.chat.MuteMember(rpcContext(r, id), &chatv1.MuteMemberRequest{
			RoomId: roomID, UserId: *req.User, Minutes: int32(*req.Minutes), //nolint:gosec // G115: checked above
		})
		respond(s, w, r, http.StatusOK, resp, err, func(m *chatv1.MuteMemberResponse) response {
			out := response{Room: roomID, User: *req.User}
			if m.GetUntil() != nil {
				t := m.GetUntil().AsTime()
				out.Until = &t
			}
			return out
		})
	}
}

// reportJSON is a report as staff see it.
type reportJSON struct {
	ID          int64     `json:"id"`
	Message     int64     `json:"message"`
	Room        int64     `json:"room"`
	Sender      int64     `json:"sender"`
	MessageText string    `json:"message_text"`
	Reporter    int64     `json:"reporter"`
	Reason      string    `json:"reason"`
	CreatedAt   time.Time `json:"created_at"`
}

func newReport(r *chatv1.Report) reportJSON {
	return reportJSON{ID: r.GetId(), Message: r.GetMessageId(), Room: r.GetRoomId(), Sender: r.GetSenderId(),
		MessageText: r.GetMessageText(), Reporter: r.GetReporterId(), Reason: r.GetReason(),
		CreatedAt: r.GetCreatedAt().AsTime()}
}

// handleReport: POST message/<id>/report/ {"reason"} → 201
// {"id","message","reason","created_at"}; once per user per message (a
// repeat answers the first report, 200).
func (s *Server) handleReport() authedHandler {
	type request struct {
		Reason *string `json:"reason"`
	}
	type response struct {
		ID        int64     `json:"id"`
		Message   int64     `json:"message"`
		Reason    string    `json:"reason"`
		CreatedAt time.Time `json:"created_at"`
	}
	return func(w http.ResponseWriter, r *http.Request, id auth.Identity) {
		msgID, ok := pathID(r, "id")
		if !ok {
			errorJSON(w, http.StatusNotFound, msgNotFound)
			return
		}
		req, ok := readRequest(s, w, r, func(req *request, errs map[string][]string) { required(errs, "reason", req.Reason) })
		if !ok {
			return
		}
		resp, err := s.chat.ReportMessage(rpcContext(r, id), &chatv1.ReportMessageRequest{MessageId: msgID, Reason: *req.Reason})
		code := http.StatusCreated
		if err == nil && !resp.GetCreated() {
			code = http.StatusOK
		}
		respond(s, w, r, code, resp, err, func(m *chatv1.ReportMessageResponse) response {
			rep := m.GetReport()
			return response{ID: rep.GetId(), Message: rep.GetMessageId(), Reason: rep.GetReason(), CreatedAt: rep.GetCreatedAt().AsTime()}
		})
	}
}

// handleListReports: GET reports/?limit=&cursor= → reports newest first;
// staff only (403 for others).
func (s *Server) handleListReports() authedHandler {
	return func(w http.ResponseWriter, r *http.Request, id auth.Identity) {
		servePage(s, w, r, func(p page) ([]*chatv1.Report, string, error) {
			resp, err := s.chat.ListReports(rpcContext(r, id), &chatv1.ListReportsRequest{Limit: p.Limit, Cursor: p.Cursor})
			return resp.GetReports(), resp.GetNextCursor(), err
		}, newReport)
	}
}

// handleOpenDM: POST dm/ {"user"} → 201 the new DM room, 200 when it
// existed; 403 when not allowed, 400 for oneself, 404 for an unknown user.
func (s *Server) handleOpenDM() authedHandler {
	type request struct {
		User *int64 `json:"user"`
	}
	return func(w http.ResponseWriter, r *http.Request, id auth.Identity) {
		req, ok := readRequest(s, w, r, func(req *request, errs map[string][]string) { userField(errs, req.User) })
		if !ok {
			return
		}
		resp, err := s.chat.OpenDirectRoom(rpcContext(r, id), &chatv1.OpenDirectRoomRequest{UserId: *req.User})
		code := http.StatusOK
		if resp.GetCreated() {
			code = http.StatusCreated
		}
		respond(s, w, r, code, resp.GetRoom(), err, chatjson.NewRoom)
	}
}

// searchMessages answers GET room/<id>/messages/?search=<text>: the
// room's messages containing the text, newest first, pages older with
// ?before=<seq> (the Link header names the next page).
func (s *Server) searchMessages(w http.ResponseWriter, r *http.Request, id auth.Identity, roomID int64) {
	p, err := readPageMax(r, maxMessagesLimit)
	if err != nil {
		rpcError(w, r, s.log, err)
		return
	}
	q := r.URL.Query()
	before, errB := seqParam(q.Get("before"))
	errs := map[string][]string{}
	if errB != "" {
		errs["before"] = append(errs["before"], errB)
	}
	if q.Get("after") != "" {
		errs["after"] = append(errs["after"], "Search pages with before only.")
	}
	if !utf8.ValidString(q.Get("search")) {
		// Checked here: gRPC cannot even carry invalid UTF-8 in a string.
		errs["search"] = append(errs["search"], "Invalid text.")
	}
	if len(errs) > 0 {
		fieldErrors(w, errs)
		return
	}
	resp, err := s.chat.SearchMessages(rpcContext(r, id), &chatv1.SearchMessagesRequest{
		RoomId: roomID, Query: q.Get("search"), BeforeSeq: before, Limit: p.Limit,
	})
	if err != nil {
		rpcError(w, r, s.log, err)
		return
	}
	msgs := resp.GetMessages()
	if len(msgs) == int(p.Limit) && len(msgs) > 0 {
		qs := r.URL.Query()
		qs.Set("before", strconv.FormatInt(msgs[len(msgs)-1].GetSeq(), 10))
		w.Header().Set("Link", "<"+r.URL.Path+"?"+qs.Encode()+`>; rel="next"`)
	}
	encode(w, http.StatusOK, chatjson.NewMessages(msgs))
}
