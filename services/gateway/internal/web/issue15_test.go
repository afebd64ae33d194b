package web_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"

	"github.com/cobraspace/cobraspace/services/gateway/internal/stack"
)

// The viewports the client is checked at: a laptop and a phone.
var (
	desktop = viewport{"desktop", 1280, 900}
	phone   = viewport{"phone", 390, 844}
)

type viewport struct {
	name          string
	width, height int64
}

func (tb *tab) viewport(v viewport) {
	tb.t.Helper()
	tb.do("viewport "+v.name, chromedp.EmulateViewport(v.width, v.height))
}

// in runs the following tab calls against subtest t (failures are reported there).
func (tb *tab) in(t *testing.T) *tab {
	tb.t = t
	return tb
}

// register creates an account through the API from the tab's page and logs
// it in (cookies), the way the sign-up and login pages would.
func register(tb *tab, email, nickname, password string) {
	tb.t.Helper()
	tb.open("/login")
	res := eval[string](tb, `(async () => {
		const post = (url, body) => fetch(url, {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body)});
		let r = await post('/api/user/registration/', {email: `+jsString(email)+`, nickname: `+jsString(nickname)+`, password1: `+jsString(password)+`, password2: `+jsString(password)+`});
		if (!r.ok) return 'registration: ' + r.status + ' ' + await r.text();
		r = await post('/api/user/login/', {email: `+jsString(email)+`, password: `+jsString(password)+`});
		if (!r.ok) return 'login: ' + r.status + ' ' + await r.text();
		localStorage.setItem('cobra.session', '1');
		return 'ok';
	})()`)
	if res != "ok" {
		tb.t.Fatalf("%s: %s", tb.name, res)
	}
}

// writePost creates a post through the API and returns its id.
func writePost(tb *tab, title, content string, tags []string) string {
	tb.t.Helper()
	b := jsString(strings.Join(tags, "\x00"))
	id := eval[string](tb, `(async () => {
		const cats = await (await fetch('/api/post/categories/')).json();
		const tags = `+b+` ? `+b+`.split('\x00') : [];
		const r = await fetch('/api/post/write/', {method: 'POST', headers: {'Content-Type': 'application/json'},
			body: JSON.stringify({title: `+jsString(title)+`, content: `+jsString(content)+`, category: cats[0].id, tags})});
		if (!r.ok) return 'write: ' + r.status + ' ' + await r.text();
		return String((await r.json()).id);
	})()`)
	if strings.Contains(id, ":") {
		tb.t.Fatalf("%s: %s", tb.name, id)
	}
	return id
}

// contrastJS computes the WCAG contrast ratio of an element's text against
// the first opaque background behind it.
const contrastJS = `((el) => {
	const rgb = (s) => (s.match(/[\d.]+/g) || []).map(Number);
	const lum = ([r, g, b]) => { const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; }; return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
	let bg = null;
	for (let e = el; e; e = e.parentElement) {
		const c = rgb(getComputedStyle(e).backgroundColor);
		if (c.length === 3 || (c.length === 4 && c[3] === 1)) { bg = c.slice(0, 3); break; }
	}
	bg = bg || [255, 255, 255];
	const fg = rgb(getComputedStyle(el).color).slice(0, 3);
	const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
	return (a + 0.05) / (b + 0.05);
})`

// TestIssue15 checks what a person hits on a phone and in a busy room
// (issue 15), each behaviour in Chromium against the real stack with two
// gateway replicas: Alice on gateway 1, Bob on gateway 2.
func TestIssue15(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test: skipped with -short")
	}
	s := stack.Start(t, stack.Options{Gateways: 2})
	browser := startBrowser(t)
	suffix := fmt.Sprint(time.Now().UnixNano() % 1e9)
	const pass = "correct-horse-battery-15"
	aliceEmail, bobEmail := "alice15."+suffix+"@example.com", "bob15."+suffix+"@example.com"
	alice := newTab(t, browser, "alice", s.Gateways[0])
	bob := newTab(t, browser, "bob", s.Gateways[1])
	register(alice, aliceEmail, "앨리스", pass)
	register(bob, bobEmail, "밥", pass)

	openRoom := func(tb *tab, postID string) {
		tb.t.Helper()
		tb.open("/posts/" + postID)
		tb.waitJS("connected", `document.querySelector('#chat-status')?.dataset.state === 'open' && !document.querySelector('#chat-input').disabled`)
	}
	send := func(tb *tab, text string) {
		tb.t.Helper()
		tb.do("send "+text, setValue("#chat-input", text), chromedp.Click(chromedp.CSS("#chat-send")))
	}

	t.Run("FailedSends", func(t *testing.T) {
		a, b := alice.in(t), bob.in(t)
		a.viewport(desktop)
		room := writePost(a, "빠르게 보내기", "rate limit", nil)
		openRoom(a, room)
		openRoom(b, room)
		// Another socket of Alice's spends her send allowance first (typing
		// frames count), then she sends 30 messages as fast as the UI allows:
		// some are refused, deterministically.
		res := eval[string](a, `(async () => {
			const ws = new WebSocket((location.protocol === 'https:' ? 'wss' : 'ws') + '://' + location.host + '/ws/chat/' + `+jsString(room)+` + '/chat/');
			await new Promise((ok, fail) => { ws.onopen = ok; ws.onerror = fail; });
			for (let i = 0; i < 25; i++) ws.send(JSON.stringify({type: 'chat.typing'}));
			const input = document.querySelector('#chat-input'), form = document.querySelector('#chat-form');
			for (let i = 1; i <= 30; i++) { input.value = 'm' + i; form.requestSubmit(); }
			setTimeout(() => ws.close(), 2000);
			return 'ok';
		})()`)
		if res != "ok" {
			t.Fatal(res)
		}
		a.waitJS("every message answered", `document.querySelectorAll('#chat-messages .msg.pending').length === 0`)
		type state struct {
			Texts  []string `json:"texts"`
			Failed []bool   `json:"failed"`
			Toasts int      `json:"toasts"`
			Btns   int      `json:"btns"`
		}
		st := eval[state](a, `(() => {
			const mine = [...document.querySelectorAll('#chat-messages .msg.mine')];
			return { texts: mine.map(e => e.querySelector('.text').textContent), failed: mine.map(e => e.matches('.failed')),
				toasts: [...document.querySelectorAll('.toast')].filter(e => e.textContent === '메시지를 너무 빨리 보내고 있습니다.').length,
				btns: document.querySelectorAll('#chat-messages .msg.failed .msg-retry, #chat-messages .msg.failed .msg-discard').length };
		})()`)
		nFailed := 0
		for i, f := range st.Failed {
			if f {
				nFailed++
			} else if nFailed > 0 {
				t.Errorf("delivered message %q is below a failed one: %v %v", st.Texts[i], st.Texts, st.Failed)
			}
		}
		want := make([]string, 30)
		for i := range want {
			want[i] = fmt.Sprintf("m%d", i+1)
		}
		if strings.Join(st.Texts, ",") != strings.Join(want, ",") {
			t.Errorf("own messages in the page: got %v, want m1..m30 in order (delivered first, unsent at the bottom)", st.Texts)
		}
		if nFailed == 0 {
			t.Fatalf("no message was refused; the test could not check failed sends")
		}
		if st.Toasts != 1 {
			t.Errorf("rate-limit toasts: got %d, want 1", st.Toasts)
		}
		if st.Btns != 2*nFailed {
			t.Errorf("retry/discard buttons: got %d for %d failed messages, want 2 each", st.Btns, nFailed)
		}
		delivered := 30 - nFailed
		b.waitJS("bob has the delivered ones", fmt.Sprintf(`document.querySelectorAll('#chat-messages .msg.theirs').length === %d`, delivered))

		// Discard the last, retry the others (in order, after the allowance refilled).
		a.do("discard m30", chromedp.Evaluate[chromedp.Void](`[...document.querySelectorAll('#chat-messages .msg.failed')].pop().querySelector('.msg-discard').click()`))
		for round := 0; round < 4 && eval[int](a, `document.querySelectorAll('#chat-messages .msg.failed').length`) > 0; round++ {
			time.Sleep(2500 * time.Millisecond)
			a.do("retry", chromedp.Evaluate[chromedp.Void](`document.querySelectorAll('#chat-messages .msg.failed .msg-retry').forEach(b => b.click())`))
			a.waitJS("retries answered", `document.querySelectorAll('#chat-messages .msg.pending').length === 0`)
		}
		want = want[:29]
		a.waitJS("all but the discarded delivered", `document.querySelectorAll('#chat-messages .msg.mine:not(.failed):not(.pending)').length === 29`)
		b.waitJS("bob has all 29", `document.querySelectorAll('#chat-messages .msg.theirs').length === 29`)
		for _, tb := range []*tab{a, b} {
			got := eval[[]string](tb, `[...document.querySelectorAll('#chat-messages .msg:not(.tombstone) .text')].map(e => e.textContent)`)
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("%s: messages after retries: got %v, want m1..m29 in order", tb.name, got)
			}
		}
		a.checkClean()
	})

	t.Run("ChatActionsOnTouch", func(t *testing.T) {
		a, b := alice.in(t), bob.in(t)
		room := writePost(a, "메시지 메뉴", "menu", nil)
		for _, v := range []viewport{phone, desktop} {
			a.viewport(v)
			openRoom(a, room)
			openRoom(b, room)
			text := "지울 메시지 " + v.name
			send(a, text)
			sel := `[...document.querySelectorAll('#chat-messages .msg.mine:not(.pending)')].find(m => m.querySelector('.text').textContent === ` + jsString(text) + `)`
			a.waitJS("acknowledged", `!!`+sel+`?.querySelector('.msg-more')`)
			// Without hovering: the menu button is visible and finger-sized; delete is not exposed.
			vis := eval[map[string]float64](a, `(() => { const m = `+sel+`; const b = m.querySelector('.msg-more').getBoundingClientRect(); const d = m.querySelector('.msg-delete').getBoundingClientRect();
				return { opacity: Number(getComputedStyle(m.querySelector('.msg-more')).opacity), w: b.width, h: b.height, del: d.width * d.height }; })()`)
			if vis["opacity"] < 1 || vis["w"] < 32 || vis["h"] < 32 || vis["del"] != 0 {
				t.Errorf("%s: the actions button %v: want opaque, at least 32×32, and no delete button shown before it is opened", v.name, vis)
			}
			a.do("open the menu", chromedp.Evaluate[chromedp.Void](sel+`.querySelector('.msg-more').click()`))
			a.waitJS("the menu", sel+`.querySelector('.msg-menu:not([hidden]) .msg-delete').getBoundingClientRect().height > 0`)
			a.do("delete", chromedp.Click(chromedp.CSS(`#chat-messages .msg-menu:not([hidden]) .msg-delete`)))
			a.waitJS("the confirmation", `!!document.querySelector('dialog[open]')`)
			a.do("cancel", chromedp.Evaluate[chromedp.Void](`document.querySelector('dialog[open] .btn-ghost').click()`))
			time.Sleep(700 * time.Millisecond)
			if n := eval[int](b, `[...document.querySelectorAll('#chat-messages .msg.theirs:not(.deleted) .text')].filter(e => e.textContent === `+jsString(text)+`).length`); n != 1 {
				t.Errorf("%s: a cancelled delete deleted the message", v.name)
			}
			a.do("open the menu again", chromedp.Evaluate[chromedp.Void](sel+`.querySelector('.msg-more').click()`))
			a.do("delete", chromedp.Click(chromedp.CSS(`#chat-messages .msg-menu:not([hidden]) .msg-delete`)))
			a.waitJS("the confirmation", `!!document.querySelector('dialog[open] .btn-danger')`)
			a.do("confirm", chromedp.Evaluate[chromedp.Void](`document.querySelector('dialog[open] .btn-danger').click()`))
			b.waitJS("bob sees it deleted", `![...document.querySelectorAll('#chat-messages .msg .text')].some(e => e.textContent === `+jsString(text)+`) && document.querySelectorAll('#chat-messages .msg.deleted').length > 0`)
		}
		a.viewport(desktop)
		a.checkClean()
	})

	t.Run("Navigation", func(t *testing.T) {
		a, b := alice.in(t), bob.in(t)
		b.open("/")
		for i := 1; i <= 9; i++ {
			writePost(b, fmt.Sprintf("스크롤 테스트 %d", i), strings.Repeat("긴 본문입니다. ", 40), []string{"scroll"})
		}
		for _, v := range []viewport{desktop, phone} {
			a.viewport(v)
			a.open("/?tag=scroll&limit=4")
			a.waitJS("first page", `document.querySelectorAll('.post-card:not(.skeleton)').length === 4`)
			a.do("load more", chromedp.Click(chromedp.CSS(".btn-more")))
			a.waitJS("second page", `document.querySelectorAll('.post-card').length === 8`)
			a.do("scroll down", chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, document.body.scrollHeight)`))
			y := eval[float64](a, `window.scrollY`)
			if y < 100 {
				t.Fatalf("%s: the board is too short to scroll (%v)", v.name, y)
			}
			a.do("open the last card", chromedp.Evaluate[chromedp.Void](`[...document.querySelectorAll('.post-card-title a')].pop().click()`))
			a.waitJS("the post", `/^\/posts\/\d+$/.test(location.pathname) && document.querySelector('#main').dataset.ready === location.pathname && !!document.querySelector('.post-title')`)
			if top := eval[float64](a, `window.scrollY`); top != 0 {
				t.Errorf("%s: the post opened scrolled to %v, want the top", v.name, top)
			}
			a.do("back", chromedp.Evaluate[chromedp.Void](`history.back()`))
			a.waitJS("the board again", `location.pathname === '/' && document.querySelector('#main').dataset.ready === '/'`)
			if n := eval[int](a, `document.querySelectorAll('.post-card').length`); n != 8 {
				t.Errorf("%s: after Back the board shows %d posts, want the 8 loaded", v.name, n)
			}
			if got := eval[float64](a, `window.scrollY`); got < y-2 || got > y+2 {
				t.Errorf("%s: after Back the board is at %v, want %v", v.name, got, y)
			}
		}
		a.viewport(desktop)
		a.checkClean()
	})

	t.Run("History", func(t *testing.T) {
		a, b := alice.in(t), bob.in(t)
		a.viewport(desktop)
		room := writePost(b, "어제와 오늘", "history", nil)
		// Bob's first three messages are from yesterday; the fourth he deletes;
		// then 56 more: 60 in all, so the oldest ten load on scroll-up.
		res := eval[string](b, `(async () => {
			const post = await (await fetch('/api/post/detail/`+room+`/')).json();
			const roomID = post.room_data.id;
			const say = async (message) => {
				for (;;) {
					const r = await fetch('/api/chat/message/', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify({room: roomID, message})});
					if (r.ok) return r.json();
					if (r.status !== 429) throw new Error(r.status);
					await new Promise(ok => setTimeout(ok, 200));
				}
			};
			for (let i = 1; i <= 3; i++) await say('어제 ' + i);
			const gone = await say('지워질 메시지');
			if ((await fetch('/api/chat/message/' + gone.id + '/', {method: 'DELETE'})).status !== 204) return 'delete failed';
			for (let i = 1; i <= 56; i++) await say('오늘 ' + i);
			return String(roomID);
		})()`)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		db, err := pgx.Connect(ctx, s.Env.DatabaseURLs[stack.Chat])
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close(ctx)
		if _, err := db.Exec(ctx, `UPDATE messages SET created_at = created_at - interval '1 day' WHERE room_id = $1 AND seq <= 3`, res); err != nil {
			t.Fatalf("backdate (room %s): %v", res, err)
		}
		openRoom(a, room)
		a.waitJS("history", `document.querySelectorAll('#chat-messages .msg').length === 50`)
		a.do("scroll up", chromedp.Evaluate[chromedp.Void](`document.querySelector('#chat-log').scrollTop = 0`))
		a.waitJS("older messages", `document.querySelectorAll('#chat-messages .msg').length === 60 && !!document.querySelector('#chat-messages .chat-start')`)
		type item struct {
			Seq       int    `json:"seq"`
			Cont      bool   `json:"cont"`
			Tombstone bool   `json:"tomb"`
			Text      string `json:"text"`
		}
		items := eval[[]item](a, `[...document.querySelectorAll('#chat-messages .msg')].map(e => ({seq: Number(e.dataset.seq), cont: e.matches('.cont'), tomb: e.matches('.tombstone'), text: e.querySelector('.text').textContent}))`)
		for i, it := range items {
			if it.Seq != i+1 {
				t.Fatalf("seqs: got %v, want 1..60", items)
			}
			wantCont := it.Seq != 1 && it.Seq != 4 && it.Seq != 5 // new day, tombstone, first after the tombstone
			if it.Seq == 4 {
				if !it.Tombstone || it.Text != "삭제된 메시지입니다." {
					t.Errorf("seq 4 (deleted): got %+v, want a tombstone", it)
				}
			} else if it.Cont != wantCont {
				t.Errorf("seq %d %q: grouped=%v, want %v (older pages group like live ones)", it.Seq, it.Text, it.Cont, wantCont)
			}
		}
		days := eval[[]string](a, `[...document.querySelectorAll('#chat-messages .sys.day')].map(e => e.textContent)`)
		today := eval[string](a, `new Intl.DateTimeFormat('ko-KR', {year: 'numeric', month: 'long', day: 'numeric', weekday: 'short'}).format(new Date())`)
		yesterday := eval[string](a, `new Intl.DateTimeFormat('ko-KR', {year: 'numeric', month: 'long', day: 'numeric', weekday: 'short'}).format(new Date(Date.now() - 864e5))`)
		if len(days) != 2 || days[0] != yesterday || days[1] != today {
			t.Errorf("date lines: got %q, want [%q %q]", days, yesterday, today)
		}

		a.checkClean()
	})

	t.Run("TypingClearedByMessage", func(t *testing.T) {
		a, b := alice.in(t), bob.in(t)
		room := writePost(b, "입력 중 표시", "typing", nil)
		openRoom(a, room)
		openRoom(b, room)
		b.do("type", chromedp.SendKeys(chromedp.CSS("#chat-input"), "곧 보낼 말"))
		a.waitJS("typing indicator", `document.querySelector('#chat-typing').textContent.includes('밥')`)
		b.do("send", chromedp.Click(chromedp.CSS("#chat-send")))
		a.waitJS("the message", `[...document.querySelectorAll('#chat-messages .msg .text')].some(e => e.textContent === '곧 보낼 말')`)
		time.Sleep(300 * time.Millisecond)
		if got := eval[string](a, `document.querySelector('#chat-typing').textContent`); got != "" {
			t.Errorf("typing indicator after the message arrived: %q, want none", got)
		}
		a.checkClean()
	})

	t.Run("ReconnectNotAnnounced", func(t *testing.T) {
		a, b := alice.in(t), bob.in(t)
		room := writePost(b, "새로고침", "reload", nil)
		openRoom(a, room)
		openRoom(b, room)
		a.waitJS("two online", `document.querySelectorAll('#chat-online li').length === 2`)
		// A reload (a reconnect within seconds) is not announced as leave and join.
		a.do("mark", chromedp.Evaluate[chromedp.Void](`document.querySelectorAll('#chat-messages .sys-join, #chat-messages .sys-leave').forEach(e => e.remove())`))
		b.open("/posts/" + room)
		b.waitJS("bob back", `document.querySelector('#chat-status')?.dataset.state === 'open'`)
		time.Sleep(4 * time.Second) // longer than the grace period
		if n := eval[[]string](a, `[...document.querySelectorAll('#chat-messages .sys-join, #chat-messages .sys-leave')].map(e => e.textContent)`); len(n) != 0 {
			t.Errorf("a reload was announced: %v", n)
		}
		if n := eval[int](a, `document.querySelectorAll('#chat-online li').length`); n != 2 {
			t.Errorf("online after bob's reload: %d, want 2", n)
		}
		b.open("/")
		a.waitJS("a real leave is still announced", `[...document.querySelectorAll('#chat-messages .sys-leave')].some(e => e.textContent.includes('밥')) && document.querySelectorAll('#chat-online li').length === 1`)
		a.checkClean()
	})

	t.Run("KoreanErrors", func(t *testing.T) {
		a := alice.in(t)
		for _, v := range []viewport{desktop, phone} {
			a.viewport(v)
			// A logged-in user on /login is sent on; use a fresh tab for the forms.
			anon := newTab(t, browser, "anon-"+v.name, s.Gateways[1])
			anon.viewport(v)
			anon.open("/signup")
			anon.do("sign up with a bad email",
				setValue("#f-email", "not-an-email"), setValue("#f-password1", "correct-horse-9"), setValue("#f-password2", "correct-horse-9"),
				chromedp.Click(chromedp.CSS("#signup-form button[type=submit]")))
			anon.waitJS("the email error", `!document.querySelector('#f-email-error').hidden`)
			if got := eval[string](anon, `document.querySelector('#f-email-error').textContent`); got != "올바른 이메일 주소를 입력하세요." {
				t.Errorf("%s: email error: %q", v.name, got)
			}
			anon.open("/login")
			anon.do("log in with a wrong password", setValue("#f-email", aliceEmail), setValue("#f-password", "wrong-password-1"),
				chromedp.Click(chromedp.CSS("#login-form button[type=submit]")))
			anon.waitJS("the login error", `!document.querySelector('.form-error').hidden`)
			if got := eval[string](anon, `document.querySelector('.form-error').textContent`); got != "이메일 또는 비밀번호가 올바르지 않습니다." {
				t.Errorf("%s: login error: %q", v.name, got)
			}
			anon.checkClean()

			// A proxy's HTML error page becomes one generic message, not its markup.
			a.open("/friends")
			a.do("break the API", chromedp.Evaluate[chromedp.Void](`(() => { const f = window.fetch; window.fetch = (u, o) => String(u).includes('search-friends') ? Promise.resolve(new Response('<html><body><h1>502 Bad Gateway</h1></body></html>', {status: 502, headers: {'Content-Type': 'text/html'}})) : f(u, o); })()`))
			a.do("search", chromedp.SendKeys(chromedp.CSS("#friend-search"), "someone\n"))
			a.waitJS("the toast", `!!document.querySelector('.toast-error')`)
			if got := eval[string](a, `document.querySelector('.toast-error').textContent`); got != "문제가 발생했습니다. 잠시 후 다시 시도하세요." {
				t.Errorf("%s: HTML error page shown as %q", v.name, got)
			}

			// The post form reports every missing field at once, in Korean.
			a.open("/write")
			a.waitJS("categories loaded", `document.querySelectorAll('#f-category option').length > 1`)
			a.do("submit empty", chromedp.Click(chromedp.CSS("#write-form button[type=submit]")))
			errs := eval[[]string](a, `[...document.querySelectorAll('#write-form .field-error:not([hidden])')].map(e => e.closest('.field').dataset.field + ': ' + e.textContent)`)
			if strings.Join(errs, "; ") != "title: 필수 항목입니다.; category: 필수 항목입니다.; content: 필수 항목입니다." {
				t.Errorf("%s: post form errors: %q, want title, category and content at once", v.name, errs)
			}
		}
		// A post without tags says so in Korean.
		id := writePost(a, "태그 없는 글", "본문", nil)
		a.viewport(desktop)
		a.open("/posts/" + id)
		a.waitJS("the post", `!!document.querySelector('.post-title')`)
		if got := eval[string](a, `document.querySelector('.post-head .tag-none').textContent`); got != "태그 없음" {
			t.Errorf("no-tags label: %q", got)
		}
		a.checkClean()
	})

	t.Run("ProfilePicture", func(t *testing.T) {
		a := alice.in(t)
		dir := t.TempDir()
		fake := filepath.Join(dir, "fake.png")
		if err := os.WriteFile(fake, append([]byte("\x89PNG\r\n\x1a\n"), []byte("not really a png!!!")...), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, v := range []viewport{desktop, phone} {
			a.viewport(v)
			a.open("/profile/edit")
			a.do("choose a fake PNG", chromedp.SetUploadFiles(chromedp.CSS("#f-profile_picture"), []string{fake}))
			a.waitJS("the picture error", `!document.querySelector('#f-profile_picture-error').hidden`)
			if got := eval[string](a, `document.querySelector('#f-profile_picture-error').textContent`); !strings.HasPrefix(got, "이미지 파일이 아니거나 손상된 파일입니다.") {
				t.Errorf("%s: fake PNG error: %q", v.name, got)
			}
			if n := eval[int](a, `[...document.querySelectorAll('.picture-preview img')].filter(i => i.complete && i.naturalWidth === 0).length`); n != 0 {
				t.Errorf("%s: the preview shows a broken image", v.name)
			}
		}
		// A picture the browser can draw but the server refuses (too many
		// pixels): nothing is saved, not even the bio typed with it.
		wide := writeWidePNG(t, dir)
		a.viewport(desktop)
		a.open("/profile/edit")
		before := eval[string](a, `document.querySelector('#f-bio').value`)
		a.do("save a bio with a refused picture", setValue("#f-bio", "저장되면 안 되는 소개"),
			chromedp.SetUploadFiles(chromedp.CSS("#f-profile_picture"), []string{wide}))
		a.waitJS("the preview", `!!document.querySelector('.picture-preview img[src^="data:"]')`)
		a.do("save", chromedp.Click(chromedp.CSS("#profile-form button[type=submit]")))
		a.waitJS("the picture error", `!document.querySelector('#f-profile_picture-error').hidden`)
		if got := eval[string](a, `document.querySelector('#f-profile_picture-error').textContent`); !strings.HasPrefix(got, "사진이 너무 큽니다.") {
			t.Errorf("too-large picture error: %q", got)
		}
		if got := eval[string](a, `fetch('/api/user/profile/').then(r => r.json()).then(p => p.bio)`); got != before {
			t.Errorf("bio after a refused picture: %q, want unchanged %q", got, before)
		}
		// A good picture with a field over the API's limit: the form says so
		// before sending, and the picture is not saved either.
		picBefore := eval[string](a, `fetch('/api/user/profile/').then(r => r.json()).then(p => String(p.profile_picture))`)
		a.open("/profile/edit")
		a.do("a bio too long with a good picture", setValue("#f-bio", strings.Repeat("가", 501)),
			chromedp.SetUploadFiles(chromedp.CSS("#f-profile_picture"), []string{writePNG(t)}))
		a.waitJS("the preview", `!!document.querySelector('.picture-preview img[src^="data:"]')`)
		a.do("save", chromedp.Click(chromedp.CSS("#profile-form button[type=submit]")))
		a.waitJS("the bio error", `!document.querySelector('#f-bio-error').hidden`)
		if got := eval[string](a, `document.querySelector('#f-bio-error').textContent`); got != "너무 깁니다." {
			t.Errorf("bio error: %q", got)
		}
		time.Sleep(300 * time.Millisecond)
		if got := eval[string](a, `fetch('/api/user/profile/').then(r => r.json()).then(p => String(p.profile_picture))`); got != picBefore {
			t.Errorf("picture after a refused form: %q, want unchanged %q", got, picBefore)
		}
		a.checkClean()
	})

	t.Run("PostImages", func(t *testing.T) {
		a := alice.in(t)
		fake := filepath.Join(t.TempDir(), "fake.png")
		if err := os.WriteFile(fake, append([]byte("\x89PNG\r\n\x1a\n"), []byte("not really a png!!!")...), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, v := range []viewport{desktop, phone} {
			a.viewport(v)
			a.open("/write")
			a.waitJS("categories loaded", `document.querySelectorAll('#f-category option').length > 1`)
			a.do("choose a fake PNG", chromedp.SetUploadFiles(chromedp.CSS("#f-image"), []string{fake}))
			a.waitJS("the image error", `!document.querySelector('#f-image-error').hidden`)
			if got := eval[string](a, `document.querySelector('#f-image-error').textContent`); !strings.HasPrefix(got, "이미지 파일이 아니거나 손상된 파일입니다.") {
				t.Errorf("%s: fake PNG error: %q", v.name, got)
			}
			a.do("write", setValue("#f-title", "그림 있는 글 "+v.name), setValue("#f-content", "아래 그림을 보세요."),
				chromedp.Evaluate[chromedp.Void](`(() => { const s = document.querySelector('#f-category'); s.value = s.options[1].value; })()`))
			a.do("choose a picture", chromedp.SetUploadFiles(chromedp.CSS("#f-image"), []string{writePNG(t)}))
			a.waitJS("the Markdown inserted", `/^아래 그림을 보세요\.\n!\[avatar\]\(\/media\/images\/\d+\/[0-9a-f]{16}\.png\)\n$/.test(document.querySelector('#f-content').value)`)
			if v == desktop {
				a.waitJS("the preview shows it", `(() => { const i = document.querySelector('#preview img'); return !!i && i.complete && i.naturalWidth === 64; })()`)
			}
			a.do("publish", chromedp.Click(chromedp.CSS("#write-form button[type=submit]")))
			a.waitJS("the post shows it", `/^\/posts\/\d+$/.test(location.pathname) && (() => { const i = document.querySelector('#post-content img'); return !!i && i.complete && i.naturalWidth === 64; })()`)
		}
		a.viewport(desktop)
		a.checkClean()
	})

	t.Run("PhoneLayout", func(t *testing.T) {
		a := alice.in(t)
		room := writePost(a, "폰에서 보기", strings.Repeat("아주 긴 본문 문단입니다.\n\n", 60), []string{"phone"})
		a.viewport(phone)
		for _, path := range []string{"/", "/posts/" + room, "/write", "/profile", "/friends"} {
			a.open(path)
			if h := eval[float64](a, `document.querySelector('.site-header').getBoundingClientRect().height`); h > 64 {
				t.Errorf("%s: the header is %vpx high, want at most 64", path, h)
			}
			small := eval[[]string](a, `[...document.querySelectorAll('input, textarea, select')].filter(e => e.getClientRects().length && e.type !== 'checkbox' && e.type !== 'file' && parseFloat(getComputedStyle(e).fontSize) < 16).map(e => e.id || e.name || e.tagName)`)
			if len(small) > 0 {
				t.Errorf("%s: fields under 16px (iOS zooms into them): %v", path, small)
			}
		}
		a.open("/")
		a.waitJS("tags loaded", `document.querySelectorAll('.tag-cloud .tag').length > 0`)
		if !eval[bool](a, `(() => { const r = document.querySelector('.tag-cloud .tag').getBoundingClientRect(); return r.width > 0 && r.height > 0; })()`) {
			t.Errorf("popular tags are hidden on a phone")
		}
		openRoom(a, room)
		a.waitJS("the jump button", `(() => { const r = document.querySelector('#jump-chat')?.getBoundingClientRect(); return r && r.height > 0 && r.bottom <= innerHeight; })()`)
		if eval[float64](a, `document.querySelector('#chat').getBoundingClientRect().top`) < 844 {
			t.Fatalf("the chat is on screen before jumping: the test cannot tell")
		}
		a.do("jump to the chat", chromedp.Click(chromedp.CSS("#jump-chat")))
		a.waitJS("the chat on screen with the input focused", `(() => { const r = document.querySelector('#chat').getBoundingClientRect(); return r.top >= 0 && r.top < innerHeight / 2 && document.activeElement.id === 'chat-input'; })()`)
		for _, v := range []viewport{phone, desktop} {
			a.viewport(v)
			send(a, "포커스 유지 "+v.name)
			a.waitJS("sent", `document.querySelectorAll('#chat-messages .msg.mine.pending').length === 0`)
			if id := eval[string](a, `document.activeElement.id`); id != "chat-input" {
				t.Errorf("%s: after sending the focus is on %q, want the chat input", v.name, id)
			}
		}
		a.checkClean()
	})

	t.Run("Details", func(t *testing.T) {
		a, b := alice.in(t), bob.in(t)
		a.viewport(desktop)
		a.open("/")
		id := writePost(a, "조회수 세기", "본문", []string{"zerotag" + suffix})
		hitOf := func() int {
			return eval[int](a, `(async () => { const me = await (await fetch('/api/user/profile/')).json(); const l = await (await fetch('/api/post/posts/?limit=100&writer=' + me.user)).json(); return l.find(p => String(p.id) === `+jsString(id)+`).hit; })()`)
		}
		h0 := hitOf()
		a.open("/posts/" + id + "/edit")
		a.waitJS("the edit form", `document.querySelector('#f-title')?.value === '조회수 세기'`)
		if h1 := hitOf(); h1 != h0 {
			t.Errorf("opening the edit form counted a view: %d → %d", h0, h1)
		}
		// A tag left without posts is not "popular".
		res := eval[int](a, `fetch('/api/post/detail/`+id+`/edit/', {method: 'PATCH', headers: {'Content-Type': 'application/json'}, body: JSON.stringify({tags: []})}).then(r => r.status)`)
		if res != 200 {
			t.Fatalf("edit tags: %d", res)
		}
		for _, v := range []viewport{desktop, phone} {
			a.viewport(v)
			a.open("/")
			a.waitJS("tags", `document.querySelectorAll('.tag-cloud .tag').length > 0`)
			if n := eval[int](a, `[...document.querySelectorAll('.tag-cloud .tag')].filter(e => e.textContent.startsWith('#zerotag') || e.querySelector('.count').textContent === '0').length`); n != 0 {
				t.Errorf("%s: popular tags list %d tags without posts", v.name, n)
			}
			// The heading names the category filtered by.
			a.do("filter by category", chromedp.Evaluate[chromedp.Void](`document.querySelector('.side-list a[href*="category="]:not([href$="category="])').click()`))
			a.waitJS("the category heading", `location.search.includes('category=') && document.querySelector('#main').dataset.ready === '/' && document.querySelector('#board-title').textContent === document.querySelector('.side-list a.active').textContent`)
			// No emoji (they are empty boxes without an emoji font): icons are SVG.
			if n := eval[string](a, `(document.body.innerText.match(/[\u{1F000}-\u{1FAFF}\u{2600}-\u{27BF}]/gu) || []).join('')`); n != "" {
				t.Errorf("%s: emoji in the page: %q", v.name, n)
			}
			if !eval[bool](a, `!!document.querySelector('.logo-mark svg.icon') && !!document.querySelector('.post-card .views svg.icon')`) {
				t.Errorf("%s: the logo and view icons are not SVG", v.name)
			}
			// Text contrast: tag counts, view counts, muted text.
			for _, sel := range []string{".tag-cloud .count", ".post-card .views", ".post-card-foot time", ".side-card h2"} {
				if r := eval[float64](a, contrastJS+`(document.querySelector(`+jsString(sel)+`))`); r < 4.5 {
					t.Errorf("%s: %s contrast %.2f:1, want at least 4.5:1", v.name, sel, r)
				}
			}
		}
		// Chat system lines.
		a.viewport(desktop)
		openRoom(a, id)
		openRoom(b, id)
		a.waitJS("bob's join line", `!!document.querySelector('#chat-messages .sys-join')`)
		for _, sel := range []string{"#chat-messages .sys-join", "#chat-messages .sys.day", ".chat-count"} {
			if eval[bool](a, `!!document.querySelector(`+jsString(sel)+`)`) {
				if r := eval[float64](a, contrastJS+`(document.querySelector(`+jsString(sel)+`))`); r < 4.5 {
					t.Errorf("%s contrast %.2f:1, want at least 4.5:1", sel, r)
				}
			}
		}

		// Friend search pages past the first 20.
		kw := "pg" + suffix // nicknames are at most 20 characters
		res2 := eval[string](b, `(async () => {
			for (let i = 0; i < 23; i++) {
				const r = await fetch('/api/user/registration/', {method: 'POST', headers: {'Content-Type': 'application/json'},
					body: JSON.stringify({email: `+jsString(kw)+` + i + '@example.com', nickname: `+jsString(kw)+` + i, password1: 'correct-horse-77', password2: 'correct-horse-77'})});
				if (!r.ok) return 'registration: ' + r.status + ' ' + await r.text();
			}
			return 'ok';
		})()`)
		if res2 != "ok" {
			t.Fatal(res2)
		}
		for _, v := range []viewport{desktop, phone} {
			a.viewport(v)
			a.open("/friends")
			a.do("search", chromedp.SendKeys(chromedp.CSS("#friend-search"), kw+"\n"))
			a.waitJS("the first page", `document.querySelectorAll('#search-results .person').length === 20 && !document.querySelector('#search-more').hidden`)
			a.do("more", chromedp.Click(chromedp.CSS("#search-more")))
			a.waitJS("all 23", `document.querySelectorAll('#search-results .person').length === 23 && document.querySelector('#search-more').hidden`)
		}

		// Logging out says so.
		a.viewport(phone)
		a.open("/")
		a.do("log out", chromedp.Click(chromedp.CSS("#account-btn")), chromedp.Click(chromedp.CSS("#logout-btn")))
		a.waitJS("the login page with a notice", `location.pathname === '/login' && [...document.querySelectorAll('.toast')].some(e => e.textContent === '로그아웃했습니다.')`)
		a.viewport(desktop)
		a.checkClean()
	})
}

// writeWidePNG writes a small file of a picture wider than the server takes
// (5000×2 pixels): the browser draws it, the server refuses it.
func writeWidePNG(t *testing.T, dir string) string {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, 5000, 2))
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "wide.png")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
