package httpapi

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cobraspace/cobraspace/platform/safetext"
	chatv1 "github.com/cobraspace/cobraspace/proto/cobraspace/chat/v1"
	userv1 "github.com/cobraspace/cobraspace/proto/cobraspace/user/v1"
	"github.com/cobraspace/cobraspace/services/gateway/internal/auth"
)

// Messages of the Users area (docs/api.md).
const (
	msgRegistered       = "회원가입이 완료되었습니다."
	msgLoggedOut        = "로그아웃이 완료되었습니다."
	msgPasswordMismatch = "The two password fields didn't match."
)

// Profile pictures: the file may be up to 5 MiB; the multipart body gets a
// little more for its headers and the other form fields.
const (
	maxPictureBytes   = 5 << 20
	maxProfileBodyLen = maxPictureBytes + 256<<10
)

// userRoutes registers /api/user/... (docs/api.md "Users").
func (s *Server) userRoutes(mux *http.ServeMux) {
	s.route(mux, "POST /api/user/registration/", s.handleRegister())
	s.route(mux, "POST /api/user/login/", s.handleLogin())
	s.route(mux, "POST /api/user/token/refresh/", s.handleRefresh())
	s.route(mux, "POST /api/user/logout/", s.requireAuth(s.handleLogout()))
	s.route(mux, "GET /api/user/profile/", s.requireAuth(s.handleGetProfile()))
	s.route(mux, "PUT /api/user/profile/", s.requireAuth(s.handleUpdateProfile()), withBodyLimit(maxProfileBodyLen))
	s.route(mux, "PATCH /api/user/profile/", s.requireAuth(s.handleUpdateProfile()), withBodyLimit(maxProfileBodyLen))
	s.route(mux, "POST /api/user/add-friend/", s.requireAuth(s.handleAddFriend()))
	s.route(mux, "GET /api/user/friends/", s.requireAuth(s.handleListFriends()))
	s.route(mux, "GET /api/user/friend-profile/{user_id}/", s.requireAuth(s.handleFriendProfile()))
	s.route(mux, "GET /api/user/search-friends/", s.requireAuth(s.handleSearchUsers()))
	s.route(mux, "POST /api/user/delete-friend/", s.requireAuth(s.handleDeleteFriend()))
}

// profileJSON is the public profile object. id and user are both the
// user id (profiles and users are one to one).
type profileJSON struct {
	ID                int64    `json:"id"`
	User              int64    `json:"user"`
	Email             string   `json:"email"`
	Nickname          string   `json:"nickname"`
	ProfilePicture    *string  `json:"profile_picture"`
	ProfilePictureURL string   `json:"profile_picture_url"`
	Bio               string   `json:"bio"`
	Skills            []string `json:"skills"`
	Interests         []string `json:"interests"`
	Status            string   `json:"status"`
	IsPrivate         bool     `json:"is_private"`
	ContactNumber     string   `json:"contact_number"`
	FriendsEmails     []string `json:"friends_emails"`
	CreatedAt         *string  `json:"created_at,omitempty"`
}

func newProfile(p *userv1.Profile) profileJSON {
	out := profileJSON{
		ID:                p.GetUserId(),
		User:              p.GetUserId(),
		Email:             p.GetEmail(),
		Nickname:          p.GetNickname(),
		ProfilePictureURL: p.GetProfilePictureUrl(),
		Bio:               p.GetBio(),
		Skills:            nonNil(p.GetSkills()),
		Interests:         nonNil(p.GetInterests()),
		Status:            statusName(p.GetStatus()),
		IsPrivate:         p.GetIsPrivate(),
		ContactNumber:     p.GetContactNumber(),
		FriendsEmails:     nonNil(p.GetFriendsEmails()),
		CreatedAt:         rfc3339(p.GetCreatedAt()),
	}
	// As in the original (an ImageField), the uploaded picture's URL, or
	// null when none was uploaded.
	if key := p.GetProfilePicture(); key != "" {
		u := "/media/" + key
		out.ProfilePicture = &u
	}
	return out
}

// userSummaryJSON is a friend-list entry; search results leave out status.
type userSummaryJSON struct {
	ID                int64  `json:"id"`
	Email             string `json:"email"`
	Nickname          string `json:"nickname"`
	ProfilePictureURL string `json:"profile_picture_url"`
	Status            string `json:"status,omitempty"`
}

// withoutStatus is a search result.
func withoutStatus(u *userv1.UserSummary) userSummaryJSON {
	return userSummaryJSON{
		ID:                u.GetUserId(),
		Email:             u.GetEmail(),
		Nickname:          u.GetNickname(),
		ProfilePictureURL: u.GetProfilePictureUrl(),
	}
}

// withStatus is a friend-list entry.
func withStatus(u *userv1.UserSummary) userSummaryJSON {
	out := withoutStatus(u)
	out.Status = statusName(u.GetStatus())
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func rfc3339(ts *timestamppb.Timestamp) *string {
	if ts == nil {
		return nil
	}
	v := ts.AsTime().UTC().Format(time.RFC3339Nano)
	return &v
}

var statusNames = map[userv1.Status]string{
	userv1.Status_STATUS_AVAILABLE: "available",
	userv1.Status_STATUS_AWAY:      "away",
	userv1.Status_STATUS_BUSY:      "busy",
}

func statusName(st userv1.Status) string {
	if n, ok := statusNames[st]; ok {
		return n
	}
	return "available"
}

func parseStatus(s string) (userv1.Status, bool) {
	for k, v := range statusNames {
		if v == s {
			return k, true
		}
	}
	return 0, false
}

// --- accounts and tokens ---

func (s *Server) handleRegister() http.Handler {
	type request struct {
		Email     *string `json:"email"`
		Password  *string `json:"password"`
		Password1 *string `json:"password1"`
		Password2 *string `json:"password2"`
		Nickname  *string `json:"nickname"`
	}
	type response struct {
		Email   string      `json:"email"`
		Message string      `json:"message"`
		Profile profileJSON `json:"profile"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var password *string
		req, ok := readRequest(s, w, r, func(req *request, errs map[string][]string) {
			required(errs, "email", req.Email)
			// Two forms: {"password"} (optionally with "password2" to
			// confirm) and the original's {"password1", "password2"}.
			password = req.Password
			confirm := req.Password2
			if password == nil {
				password = req.Password1
				if password != nil {
					required(errs, "password2", req.Password2)
				}
			}
			required(errs, "password", password)
			if len(errs) == 0 && confirm != nil && *confirm != *password {
				errs["password"] = append(errs["password"], msgPasswordMismatch)
			}
		})
		if !ok {
			return
		}
		resp, err := s.users.Register(r.Context(), &userv1.RegisterRequest{
			Email: strings.TrimSpace(*req.Email), Password: *password, Nickname: str(req.Nickname),
		})
		if err != nil {
			rpcError(w, r, s.log, err)
			return
		}
		encode(w, http.StatusCreated, response{
			Email:   resp.GetProfile().GetEmail(),
			Message: msgRegistered,
			Profile: newProfile(resp.GetProfile()),
		})
	})
}

func (s *Server) handleLogin() http.Handler {
	type request struct {
		Email    *string `json:"email"`
		Password *string `json:"password"`
	}
	type response struct {
		Message string      `json:"message"`
		Profile profileJSON `json:"profile"`
		Refresh string      `json:"refresh"`
		Access  string      `json:"access"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, ok := readRequest(s, w, r, func(req *request, errs map[string][]string) {
			required(errs, "email", req.Email)
			if req.Password == nil || *req.Password == "" {
				errs["password"] = []string{msgRequired}
			}
		})
		if !ok {
			return
		}
		resp, err := s.users.Login(r.Context(), &userv1.LoginRequest{
			Email: strings.TrimSpace(*req.Email), Password: *req.Password, ClientIp: s.clientIP(r),
		})
		if err != nil {
			rpcError(w, r, s.log, err)
			return
		}
		s.setTokenCookies(w, resp.GetTokens())
		p := resp.GetProfile()
		name := p.GetNickname()
		if name == "" {
			name = p.GetEmail()
		}
		encode(w, http.StatusOK, response{
			Message: name + "님 환영합니다.",
			Profile: newProfile(p),
			Refresh: resp.GetTokens().GetRefresh(),
			Access:  resp.GetTokens().GetAccess(),
		})
	})
}

func (s *Server) handleRefresh() http.Handler {
	type request struct {
		Refresh *string `json:"refresh"`
	}
	type response struct {
		Access  string `json:"access"`
		Refresh string `json:"refresh"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, ok := readRequest[request](s, w, r, nil)
		if !ok {
			return
		}
		token := str(req.Refresh)
		if token == "" {
			c, err := r.Cookie(auth.RefreshCookie)
			if err != nil || c.Value == "" {
				fieldErrors(w, map[string][]string{"refresh": {msgRequired}})
				return
			}
			// A cookie rides along on cross-site requests too: only our
			// own pages may rotate it.
			if !s.origins.CheckCSRF(r) {
				errorJSON(w, http.StatusForbidden, auth.CSRFMessage)
				return
			}
			token = c.Value
		}
		pair, err := s.users.RefreshToken(r.Context(), &userv1.RefreshTokenRequest{Refresh: token})
		if err != nil {
			if status.Code(err) == codes.Unauthenticated {
				s.clearTokenCookies(w)
			}
			rpcError(w, r, s.log, err)
			return
		}
		s.setTokenCookies(w, pair)
		encode(w, http.StatusOK, response{Access: pair.GetAccess(), Refresh: pair.GetRefresh()})
	})
}

func (s *Server) handleLogout() authedHandler {
	type request struct {
		Refresh *string `json:"refresh"`
	}
	return func(w http.ResponseWriter, r *http.Request, id auth.Identity) {
		req, ok := readRequest[request](s, w, r, nil)
		if !ok {
			return
		}
		refresh := str(req.Refresh)
		if refresh == "" {
			if c, err := r.Cookie(auth.RefreshCookie); err == nil {
				refresh = c.Value
			}
		}
		if _, err := s.users.Logout(rpcContext(r, id), &userv1.LogoutRequest{Refresh: refresh}); err != nil {
			if status.Code(err) == codes.Unauthenticated {
				s.clearTokenCookies(w) // the session is over either way
			}
			rpcError(w, r, s.log, err)
			return
		}
		// This replica stops accepting the session's tokens and closes its
		// sockets at once, even before the announcement comes back over NATS.
		s.auth.Revoked(id.UserID, []string{id.SessionID})
		s.clearTokenCookies(w)
		encode(w, http.StatusOK, map[string]string{"message": msgLoggedOut})
	}
}

// Cookie paths: the access token goes with every request; the refresh
// token only to the user API (refresh and logout).
const (
	accessCookiePath  = "/"
	refreshCookiePath = "/api/user/"
)

// setTokenCookies sets the HttpOnly, SameSite=Lax token cookies of a web
// session, expiring with the tokens.
func (s *Server) setTokenCookies(w http.ResponseWriter, p *userv1.TokenPair) {
	set := func(name, value, path string, exp *timestamppb.Timestamp) {
		c := &http.Cookie{ //nolint:gosec // G124: Secure follows COOKIE_SECURE, off only for plain-HTTP local runs
			Name: name, Value: value, Path: path,
			HttpOnly: true, Secure: s.cookieSecure, SameSite: http.SameSiteLaxMode,
		}
		if exp != nil {
			c.Expires = exp.AsTime()
			c.MaxAge = max(1, int(time.Until(exp.AsTime()).Seconds()))
		}
		http.SetCookie(w, c)
	}
	set(auth.AccessCookie, p.GetAccess(), accessCookiePath, p.GetAccessExpiresAt())
	set(auth.RefreshCookie, p.GetRefresh(), refreshCookiePath, p.GetRefreshExpiresAt())
}

func (s *Server) clearTokenCookies(w http.ResponseWriter) {
	for _, c := range []struct{ name, path string }{{auth.AccessCookie, accessCookiePath}, {auth.RefreshCookie, refreshCookiePath}} {
		http.SetCookie(w, &http.Cookie{ //nolint:gosec // G124: Secure follows COOKIE_SECURE, off only for plain-HTTP local runs
			Name: c.name, Value: "", Path: c.path, MaxAge: -1, Expires: time.Unix(0, 0),
			HttpOnly: true, Secure: s.cookieSecure, SameSite: http.SameSiteLaxMode,
		})
	}
}

// --- profile ---

// ownProfileJSON is the caller's own profile: the profile object plus
// is_staff, so a client knows to offer moderation (deleting others'
// messages, mutes, the report list) in every room. Only the owner sees it:
// other users' profiles never say who is staff.
type ownProfileJSON struct {
	profileJSON
	IsStaff bool `json:"is_staff"`
}

func (s *Server) handleGetProfile() authedHandler {
	return func(w http.ResponseWriter, r *http.Request, id auth.Identity) {
		p, err := s.users.GetProfile(rpcContext(r, id), &userv1.GetProfileRequest{})
		if err != nil {
			rpcError(w, r, s.log, err)
			return
		}
		// The role is only told to services (GetRelation answers a user
		// token PERMISSION_DENIED): asked with the gateway's own identity,
		// about the profile just read, never about a user from the request.
		rel, err := s.users.GetRelation(r.Context(), &userv1.GetRelationRequest{UserId: p.GetUserId()})
		if err != nil {
			rpcError(w, r, s.log, err)
			return
		}
		encode(w, http.StatusOK, ownProfileJSON{profileJSON: newProfile(p), IsStaff: rel.GetIsStaff()})
	}
}

// profileUpdate is the body of PUT/PATCH profile/. Fields left out (or
// null) keep their value, for PUT as for PATCH: clients of the original
// sent partial PUTs. The read-only fields of the profile object are
// accepted and ignored, so a client may send back what it read.
type profileUpdate struct {
	Nickname      *string   `json:"nickname"`
	Bio           *string   `json:"bio"`
	Skills        *[]string `json:"skills"`
	Interests     *[]string `json:"interests"`
	Status        *string   `json:"status"`
	IsPrivate     *bool     `json:"is_private"`
	ContactNumber *string   `json:"contact_number"`

	ID                any `json:"id"`
	User              any `json:"user"`
	Email             any `json:"email"`
	ProfilePicture    any `json:"profile_picture"`
	ProfilePictureURL any `json:"profile_picture_url"`
	FriendsEmails     any `json:"friends_emails"`
	CreatedAt         any `json:"created_at"`
	IsStaff           any `json:"is_staff"`
}

// request builds the UpdateProfile call; nil when nothing changes.
func (u profileUpdate) request() (*userv1.UpdateProfileRequest, error) {
	req := &userv1.UpdateProfileRequest{}
	maskedSet(&req.UpdateMask, "nickname", u.Nickname, &req.Nickname)
	maskedSet(&req.UpdateMask, "bio", u.Bio, &req.Bio)
	maskedSet(&req.UpdateMask, "skills", u.Skills, &req.Skills)
	maskedSet(&req.UpdateMask, "interests", u.Interests, &req.Interests)
	if u.Status != nil {
		st, ok := parseStatus(*u.Status)
		if !ok {
			return nil, fieldError("status", strconv.Quote(*u.Status)+" is not a valid choice.")
		}
		maskedSet(&req.UpdateMask, "status", &st, &req.Status)
	}
	maskedSet(&req.UpdateMask, "is_private", u.IsPrivate, &req.IsPrivate)
	maskedSet(&req.UpdateMask, "contact_number", u.ContactNumber, &req.ContactNumber)
	if len(req.UpdateMask) == 0 {
		return nil, nil
	}
	return req, nil
}

// maskedSet copies a field the client sent (v not nil) into *dst and adds
// its name to the update mask.
func maskedSet[T any](mask *[]string, name string, v *T, dst *T) {
	if v != nil {
		*mask = append(*mask, name)
		*dst = *v
	}
}

// handleUpdateProfile serves PUT and PATCH profile/: a JSON body, or a
// multipart form with the same fields as text and/or a profile_picture
// file (≤ 5 MiB, else 413).
func (s *Server) handleUpdateProfile() authedHandler {
	return func(w http.ResponseWriter, r *http.Request, id auth.Identity) {
		var (
			upd     profileUpdate
			picture []byte
			picType string
			err     error
		)
		if hasBody(r) && mediaType(r) == "multipart/form-data" {
			upd, picture, picType, err = readProfileForm(r)
		} else {
			// JSON bodies keep the API's 1 MiB limit on this route too.
			r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
			err = decode(r, &upd)
		}
		if err != nil {
			rpcError(w, r, s.log, err)
			return
		}
		ureq, err := upd.request()
		if err != nil {
			rpcError(w, r, s.log, err)
			return
		}
		ctx := rpcContext(r, id)
		var p *userv1.Profile
		// The picture goes first: it is what gets refused most (not an
		// image, too many pixels), and a refused picture then leaves the
		// text fields sent with it unsaved too.
		if picture != nil {
			if p, err = s.users.SetProfilePicture(ctx, &userv1.SetProfilePictureRequest{Image: picture, ContentType: picType}); err != nil {
				rpcError(w, r, s.log, err)
				return
			}
		}
		if ureq != nil {
			if p, err = s.users.UpdateProfile(ctx, ureq); err != nil {
				rpcError(w, r, s.log, err)
				return
			}
		}
		if p == nil {
			if p, err = s.users.GetProfile(ctx, &userv1.GetProfileRequest{}); err != nil {
				rpcError(w, r, s.log, err)
				return
			}
		}
		encode(w, http.StatusOK, newProfile(p))
	}
}

// readProfileForm reads a multipart profile update: text fields as in
// JSON (skills and interests as repeated fields or one comma-separated
// value, is_private as true/false) and the profile_picture file.
func readProfileForm(r *http.Request) (upd profileUpdate, picture []byte, contentType string, err error) {
	// The body is already limited by the route; keep it all in memory
	// rather than spilling to temporary files.
	if err := r.ParseMultipartForm(maxProfileBodyLen + 1<<20); err != nil { //nolint:gosec // G120: the route limits the body with http.MaxBytesReader
		var rerr *requestError
		if errors.As(readError(err), &rerr) && rerr.status == http.StatusRequestEntityTooLarge {
			return upd, nil, "", rerr
		}
		return upd, nil, "", &requestError{status: http.StatusBadRequest, detail: "Multipart form parse error - invalid form."}
	}
	form := r.MultipartForm
	for name, vals := range form.Value {
		if len(vals) == 0 {
			continue
		}
		v := vals[0]
		switch name {
		case "nickname":
			upd.Nickname = &v
		case "bio":
			upd.Bio = &v
		case "status":
			upd.Status = &v
		case "contact_number":
			upd.ContactNumber = &v
		case "skills", "interests":
			list := splitList(vals)
			if name == "skills" {
				upd.Skills = &list
			} else {
				upd.Interests = &list
			}
		case "is_private":
			b, perr := strconv.ParseBool(strings.ToLower(v))
			if perr != nil {
				return upd, nil, "", fieldError("is_private", "Must be a valid boolean.")
			}
			upd.IsPrivate = &b
		case "id", "user", "email", "profile_picture", "profile_picture_url", "friends_emails", "created_at":
			// read-only, ignored as in JSON
		default:
			return upd, nil, "", fieldError(name, msgUnknownField)
		}
	}
	for name, files := range form.File {
		if name != "profile_picture" {
			return upd, nil, "", fieldError(name, msgUnknownField)
		}
		fh := files[0]
		if fh.Size > maxPictureBytes {
			return upd, nil, "", &requestError{status: http.StatusRequestEntityTooLarge, detail: msgTooLarge}
		}
		f, ferr := fh.Open()
		if ferr != nil {
			return upd, nil, "", readError(ferr)
		}
		data, ferr := io.ReadAll(io.LimitReader(f, maxPictureBytes+1))
		f.Close()
		if ferr != nil {
			return upd, nil, "", readError(ferr)
		}
		picture, contentType = data, fh.Header.Get("Content-Type")
		if picture == nil {
			picture = []byte{} // an empty file is still "a picture was sent"
		}
	}
	if safetext.Check(contentType) != nil {
		return upd, nil, "", fieldError("profile_picture", "Upload a valid image. The file you uploaded was either not an image or a corrupted image.")
	}
	return upd, picture, contentType, checkStrings(&upd)
}

// splitList turns form values into a list: repeated fields, or a single
// comma-separated value.
func splitList(vals []string) []string {
	if len(vals) > 1 {
		return vals
	}
	out := []string{}
	for _, v := range strings.Split(vals[0], ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// --- friends ---

type emailRequest struct {
	Email *string `json:"email"`
}

// readEmail reads {"email"} (see readRequest).
func (s *Server) readEmail(w http.ResponseWriter, r *http.Request) (string, bool) {
	req, ok := readRequest(s, w, r, func(req *emailRequest, errs map[string][]string) {
		required(errs, "email", req.Email)
	})
	return strings.TrimSpace(str(req.Email)), ok
}

func (s *Server) handleAddFriend() authedHandler {
	return func(w http.ResponseWriter, r *http.Request, id auth.Identity) {
		email, ok := s.readEmail(w, r)
		if !ok {
			return
		}
		resp, err := s.users.AddFriend(rpcContext(r, id), &userv1.AddFriendRequest{Email: email})
		if err != nil {
			rpcError(w, r, s.log, err)
			return
		}
		if e := resp.GetFriend().GetEmail(); e != "" {
			email = e
		}
		s.notifyFriend(r, id, resp.GetFriend().GetUserId())
		encode(w, http.StatusOK, map[string]string{"message": email + "님을 친구로 추가했습니다."})
	}
}

func (s *Server) handleDeleteFriend() authedHandler {
	return func(w http.ResponseWriter, r *http.Request, id auth.Identity) {
		email, ok := s.readEmail(w, r)
		if !ok {
			return
		}
		if _, err := s.users.DeleteFriend(rpcContext(r, id), &userv1.DeleteFriendRequest{Email: email}); err != nil {
			rpcError(w, r, s.log, err)
			return
		}
		encode(w, http.StatusOK, map[string]string{"message": email + "님을 친구 목록에서 삭제했습니다."})
	}
}

func (s *Server) handleListFriends() authedHandler {
	return func(w http.ResponseWriter, r *http.Request, id auth.Identity) {
		servePage(s, w, r, func(p page) ([]*userv1.UserSummary, string, error) {
			resp, err := s.users.ListFriends(rpcContext(r, id), &userv1.ListFriendsRequest{Limit: p.Limit, Cursor: p.Cursor})
			return resp.GetFriends(), resp.GetNextCursor(), err
		}, withStatus)
	}
}

func (s *Server) handleSearchUsers() authedHandler {
	return func(w http.ResponseWriter, r *http.Request, id auth.Identity) {
		keyword := r.URL.Query().Get("keyword")
		servePage(s, w, r, func(p page) ([]*userv1.UserSummary, string, error) {
			resp, err := s.users.SearchUsers(rpcContext(r, id), &userv1.SearchUsersRequest{Keyword: keyword, Limit: p.Limit, Cursor: p.Cursor})
			return resp.GetUsers(), resp.GetNextCursor(), err
		}, withoutStatus)
	}
}

func (s *Server) handleFriendProfile() authedHandler {
	return func(w http.ResponseWriter, r *http.Request, id auth.Identity) {
		uid, ok := pathID(r, "user_id")
		if !ok {
			errorJSON(w, http.StatusNotFound, msgNotFound)
			return
		}
		p, err := s.users.GetFriendProfile(rpcContext(r, id), &userv1.GetFriendProfileRequest{UserId: uid})
		if st, _ := status.FromError(err); err != nil && st.Code() == codes.PermissionDenied {
			// The original answered a private profile with "message";
			// "detail" is there too for clients that read errors uniformly.
			encode(w, http.StatusForbidden, map[string]string{"message": st.Message(), "detail": st.Message()})
			return
		}
		respond(s, w, r, http.StatusOK, p, err, newProfile)
	}
}

// notifyFriend asks the chat service to notify the added user (kind
// "friend") once the friendship is stored. It is best effort: a failure is
// logged and the friend is still added; if the gateway dies between the
// two calls, that one notification is not created.
func (s *Server) notifyFriend(r *http.Request, id auth.Identity, friendID int64) {
	if friendID <= 0 {
		return
	}
	if _, err := s.chat.CreateFriendNotification(rpcContext(r, id), &chatv1.CreateFriendNotificationRequest{
		ActorId: id.UserID, UserId: friendID,
	}); err != nil {
		s.log.WarnContext(r.Context(), "friend notification not created", "user_id", friendID, "err", err)
	}
}
