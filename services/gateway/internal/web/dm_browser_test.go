package web_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"

	"github.com/cobraspace/cobraspace/services/gateway/internal/stack"
)

// TestBrowserConversations drives the web client of direct messages,
// moderation and message search in Chromium against the real stack with
// two gateway replicas: alice and carol on gateway 1, bob and the staff
// member on gateway 2.
func TestBrowserConversations(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test: skipped with -short")
	}
	s := stack.Start(t, stack.Options{Gateways: 2})
	browser := startBrowser(t)
	suffix := fmt.Sprint(time.Now().UnixNano() % 1e9)
	const pass = "correct-horse-battery-13"
	email := func(name string) string { return name + "13." + suffix + "@example.com" }
	alice := newTab(t, browser, "alice", s.Gateways[0])
	bob := newTab(t, browser, "bob", s.Gateways[1])
	carol := newTab(t, browser, "carol", s.Gateways[0])
	staff := newTab(t, browser, "staff", s.Gateways[1])
	register(alice, email("alice"), "앨리스", pass)
	register(bob, email("bob"), "밥", pass)
	register(carol, email("carol"), "캐롤", pass)
	register(staff, email("staff"), "운영자", pass)
	// The staff role is set only by an operator (what
	// `go run ./services/user/cmd/staff -email ... -on` does), before the
	// staff member's pages read the profile.
	db, err := pgx.Connect(context.Background(), s.Env.DatabaseURLs[stack.User])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(context.Background(), `UPDATE users SET is_staff = true WHERE lower(email) = lower($1)`, email("staff")); err != nil {
		t.Fatal(err)
	}
	db.Close(context.Background())
	aliceID, bobID, carolID := myID(alice), myID(bob), myID(carol)

	connected := func(tb *tab) {
		tb.t.Helper()
		tb.waitJS("connected", `document.querySelector('#chat-status')?.dataset.state === 'open' && !document.querySelector('#chat-input').disabled`)
	}
	send := func(tb *tab, text string) {
		tb.t.Helper()
		tb.do("send "+text, setValue("#chat-input", text), chromedp.Click(chromedp.CSS("#chat-send")))
	}
	// shows waits until a delivered message with exactly this text is in the log.
	shows := func(tb *tab, text string) {
		tb.t.Helper()
		tb.waitJS("message "+text, `[...document.querySelectorAll('#chat-messages .msg[data-id]:not(.pending) .text')].some(e => e.textContent === `+jsString(text)+`)`)
	}
	// msgSel is a JS expression for the <li> of the message with this text.
	msgSel := func(text string) string {
		return `[...document.querySelectorAll('#chat-messages .msg[data-id]')].find(li => li.querySelector('.text')?.textContent === ` + jsString(text) + `)`
	}
	// menuItems opens the bubble menu of a message and lists its items' classes.
	menuItems := func(tb *tab, text string) []string {
		tb.t.Helper()
		// A click elsewhere first closes any menu left open.
		return eval[[]string](tb, `(() => { document.body.click(); const li = `+msgSel(text)+`; const b = li && li.querySelector('.msg-more'); if (!b) return [];
			b.click(); return [...li.querySelectorAll('.msg-menu:not([hidden]) .menu-item')].map(e => e.className.replace('menu-item ', '')); })()`)
	}
	clickItem := func(tb *tab, text, item string) {
		tb.t.Helper()
		if len(menuItems(tb, text)) == 0 {
			tb.t.Fatalf("%s: no menu on %q", tb.name, text)
		}
		tb.do("click "+item, chromedp.Evaluate[chromedp.Void](`(`+msgSel(text)+`).querySelector('.msg-menu .`+item+`').click()`))
	}
	toastShown := func(tb *tab, text string) {
		tb.t.Helper()
		tb.waitJS("toast "+text, `[...document.querySelectorAll('#toasts .toast')].some(e => e.textContent.includes(`+jsString(text)+`))`)
	}

	t.Run("DirectMessages", func(t *testing.T) {
		a, b, c := alice.in(t), bob.in(t), carol.in(t)
		a.viewport(desktop)
		b.viewport(phone)
		// From bob's public profile: the button opens the DM room.
		a.open(fmt.Sprintf("/users/%d", bobID))
		a.do("send a message", chromedp.Click(chromedp.CSS("#dm-open")))
		a.waitJS("the DM page", `/^\/dm\/\d+$/.test(location.pathname) && !!document.querySelector('#dm-head')`)
		connected(a)
		dmPath := eval[string](a, `location.pathname`)
		if got := eval[string](a, `document.querySelector('#dm-head .nick').textContent`); got != "밥" {
			t.Errorf("DM head names %q, want 밥", got)
		}
		a.screenshot("dm")
		// Bob, on the other replica and a phone, opens the same room from
		// alice's profile and gets her message live.
		b.open(fmt.Sprintf("/users/%d", aliceID))
		b.do("send a message", chromedp.Click(chromedp.CSS("#dm-open")))
		b.waitJS("the same DM room", `location.pathname === `+jsString(dmPath))
		connected(b)
		send(a, "안녕 밥, 이건 1:1 메시지야")
		shows(b, "안녕 밥, 이건 1:1 메시지야")
		send(b, "반가워 앨리스")
		shows(a, "반가워 앨리스")
		if w := eval[bool](b, `document.documentElement.scrollWidth <= window.innerWidth`); !w {
			t.Errorf("the DM page scrolls sideways on a phone")
		}
		b.screenshot("dm-phone")
		// Alice blocks bob: his next send in the open room is refused, said
		// as a block (not as "only your own messages"), and kept as failed.
		if !eval[bool](a, fmt.Sprintf(`fetch('/api/user/block/', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: '{"user": %d}'}).then(r => r.ok)`, bobID)) {
			t.Fatal("alice could not block bob")
		}
		send(b, "차단 뒤의 말")
		toastShown(b, "차단 때문에")
		b.waitJS("the refused message marked", `[...document.querySelectorAll('#chat-messages .msg.failed .text')].some(e => e.textContent === '차단 뒤의 말')`)
		send(b, "그 다음 말")
		b.waitJS("queued behind it, failed too", `[...document.querySelectorAll('#chat-messages .msg.failed .text')].some(e => e.textContent === '그 다음 말')`)
		if !eval[bool](a, fmt.Sprintf(`fetch('/api/user/block/%d/', {method: 'DELETE'}).then(r => r.ok)`, bobID)) {
			t.Fatal("alice could not unblock bob")
		}
		// Carol is not one of the two: the room does not exist for her.
		c.open(dmPath)
		c.waitJS("not found", `!!document.querySelector('#dm-missing')`)

		// A private profile that has not added alice: the 403 is said in Korean.
		if !eval[bool](c, `fetch('/api/user/profile/', {method: 'PATCH', headers: {'Content-Type': 'application/json'}, body: '{"is_private": true}'}).then(r => r.ok)`) {
			t.Fatal("carol could not make her profile private")
		}
		a.open(fmt.Sprintf("/users/%d", carolID))
		a.waitJS("the private notice", `!!document.querySelector('#profile-private #dm-open')`)
		a.do("send a message", chromedp.Click(chromedp.CSS("#dm-open")))
		a.waitJS("the refusal", `!document.querySelector('#dm-error').hidden`)
		if got := eval[string](a, `document.querySelector('#dm-error').textContent`); !strings.Contains(got, "메시지를 보낼 수 없습니다") {
			t.Errorf("refusal text = %q", got)
		}
		if p := eval[string](a, `location.pathname`); p != fmt.Sprintf("/users/%d", carolID) {
			t.Errorf("a refused DM navigated to %s", p)
		}
		b.viewport(desktop)
	})

	t.Run("Moderation", func(t *testing.T) {
		a, b, c, st := alice.in(t), bob.in(t), carol.in(t), staff.in(t)
		postID := writePost(a, "모더레이션", "방장은 지우고 음소거할 수 있다", nil)
		a.open("/posts/" + postID)
		connected(a)
		b.open("/posts/" + postID)
		connected(b)
		send(b, "지워질 메시지")
		send(b, "신고될 메시지")
		send(a, "방장의 메시지")
		shows(a, "신고될 메시지")
		shows(b, "방장의 메시지")

		// The writer moderates others' messages; a reader may only report.
		if got := menuItems(a, "지워질 메시지"); strings.Join(got, ",") != "msg-reply,msg-react,msg-report,msg-mod-delete,msg-mute" {
			t.Errorf("owner's menu on bob's message = %v", got)
		}
		if got := menuItems(b, "방장의 메시지"); strings.Join(got, ",") != "msg-reply,msg-react,msg-report" {
			t.Errorf("reader's menu on alice's message = %v", got)
		}
		if got := menuItems(a, "방장의 메시지"); strings.Join(got, ",") != "msg-reply,msg-react,msg-edit,msg-delete" {
			t.Errorf("own menu = %v", got)
		}

		// Delete: after the confirmation, gone for bob on the other replica.
		clickItem(a, "지워질 메시지", "msg-mod-delete")
		a.waitJS("the confirmation", `!!document.querySelector('dialog[open] .btn-danger')`)
		a.do("confirm", chromedp.Evaluate[chromedp.Void](`document.querySelector('dialog[open] .btn-danger').click()`))
		b.waitJS("bob sees it deleted", `[...document.querySelectorAll('#chat-messages .msg.deleted .text')].length === 1 && !(`+msgSel("지워질 메시지")+`)`)

		// Mute for 10 minutes: bob's next send is refused with the muted toast.
		clickItem(a, "신고될 메시지", "msg-mute")
		a.waitJS("the mute dialog", `!!document.querySelector('#mute-dialog[open] #mute-minutes')`)
		if got := eval[[]string](a, `[...document.querySelectorAll('#mute-minutes option')].map(o => o.value + ' ' + o.textContent)`); strings.Join(got, ",") != "10 10분,60 1시간,1440 1일,10080 7일" {
			t.Errorf("mute choices = %v", got)
		}
		a.do("mute", chromedp.Evaluate[chromedp.Void](`document.querySelector('#mute-dialog button[value=mute]').click()`))
		toastShown(a, "음소거했습니다")
		send(b, "음소거 중에 보낸 말")
		toastShown(b, "음소거되어")
		b.waitJS("the refused message marked", `[...document.querySelectorAll('#chat-messages .msg.failed .text')].some(e => e.textContent === '음소거 중에 보낸 말')`)
		// Lifted: he can talk again (the refused one is retried).
		clickItem(a, "신고될 메시지", "msg-mute")
		a.waitJS("the mute dialog", `!!document.querySelector('#mute-dialog[open]')`)
		a.do("unmute", chromedp.Evaluate[chromedp.Void](`document.querySelector('#mute-dialog button[value=unmute]').click()`))
		toastShown(a, "음소거를 해제했습니다")
		b.do("retry", chromedp.Evaluate[chromedp.Void](`document.querySelector('#chat-messages .msg.failed .msg-retry').click()`))
		shows(a, "음소거 중에 보낸 말")

		// Carol reads and reports bob's message; an empty reason is refused first.
		c.viewport(phone)
		c.open("/posts/" + postID)
		connected(c)
		shows(c, "신고될 메시지")
		clickItem(c, "신고될 메시지", "msg-report")
		c.waitJS("the report dialog", `!!document.querySelector('#report-dialog[open] #report-reason')`)
		c.do("report without a reason", chromedp.Evaluate[chromedp.Void](`document.querySelector('#report-dialog button[value=report]').click()`))
		c.waitJS("reason required", `!!document.querySelector('#report-dialog[open] .field-error:not([hidden])')`)
		c.screenshot("report-phone")
		c.do("report", setValue("#report-reason", "욕설이 있어요 100%"),
			chromedp.Evaluate[chromedp.Void](`document.querySelector('#report-dialog button[value=report]').click()`))
		toastShown(c, "신고했습니다")
		c.viewport(desktop)

		// Only staff see the reports page (and its menu entry).
		a.open("/reports")
		a.waitJS("forbidden", `!!document.querySelector('#reports-forbidden')`)
		// Logged in through the login page, the staff member gets the menu
		// entry without a reload (the login answer's profile lacks is_staff).
		st.open("/")
		st.do("log out", chromedp.Evaluate[chromedp.Void](`document.querySelector('#logout-btn').click()`))
		st.waitJS("the login page", `location.pathname === '/login' && !!document.querySelector('#login-form')`)
		st.do("log in", setValue("#f-email", email("staff")), setValue("#f-password", pass),
			chromedp.Click(chromedp.CSS("#login-form button[type=submit]")))
		st.waitJS("staff menu entry", `!!document.querySelector('#account-btn') && !!document.querySelector('#account-menu a[href="/reports"]')`)
		st.do("to the reports", chromedp.Evaluate[chromedp.Void](`document.querySelector('#account-menu a[href="/reports"]').click()`))
		st.waitJS("the reports page", `location.pathname === '/reports' && document.querySelector('#main').dataset.ready === '/reports'`)
		st.open("/reports")
		st.waitJS("the report", `[...document.querySelectorAll('#reports .report')].some(r => r.textContent.includes('신고될 메시지') && r.textContent.includes('욕설이 있어요 100%'))`)
		st.screenshot("reports")
		st.do("open the room", chromedp.Evaluate[chromedp.Void](`document.querySelector('#reports .report-room').click()`))
		st.waitJS("the post of the room", `location.pathname === '/posts/`+postID+`'`)
		// Staff moderate any room: the menu offers delete and mute.
		st.open("/posts/" + postID)
		connected(st)
		shows(st, "방장의 메시지")
		if got := menuItems(st, "방장의 메시지"); strings.Join(got, ",") != "msg-reply,msg-react,msg-report,msg-mod-delete,msg-mute" {
			t.Errorf("staff menu = %v", got)
		}
	})

	t.Run("Search", func(t *testing.T) {
		a := alice.in(t)
		postID := writePost(a, "검색", "채팅방 메시지 검색", nil)
		roomID := eval[float64](a, `fetch('/api/post/detail/`+postID+`/').then(r => r.json()).then(p => p.room_data ? p.room_data.id : p.room_id)`)
		// The first message is older than the history the chat loads (50).
		texts := []string{"맨 처음의 고양이 이야기"}
		for i := 1; i <= 60; i++ {
			texts = append(texts, fmt.Sprintf("채움 메시지 %d", i))
		}
		texts = append(texts, "할인율 100% 확실", "퍼센트 없는 말", "고양이 두 번째")
		postMessages(a, int64(roomID), texts)
		a.open("/posts/" + postID)
		connected(a)
		shows(a, "고양이 두 번째")
		search := func(q string) {
			a.t.Helper()
			a.do("search "+q, setValue("#chat-search-input", q), chromedp.Click(chromedp.CSS("#chat-search-go")))
		}
		results := func() []string {
			return eval[[]string](a, `[...document.querySelectorAll('#chat-search-results .chat-search-text')].map(e => e.textContent)`)
		}
		a.do("open search", chromedp.Click(chromedp.CSS("#chat-search-toggle")))
		search("고양이")
		a.waitJS("two results", `document.querySelectorAll('#chat-search-results .chat-search-hit').length === 2`)
		if got := results(); strings.Join(got, "|") != "고양이 두 번째|맨 처음의 고양이 이야기" {
			t.Errorf("고양이: %v (want newest first)", got)
		}
		if got := eval[string](a, `document.querySelector('#chat-search-results mark').textContent`); got != "고양이" {
			t.Errorf("marked %q", got)
		}
		a.screenshot("chat-search")
		// A literal %: only the message containing it, not everything.
		search("%")
		a.waitJS("the % result", `document.querySelectorAll('#chat-search-results .chat-search-hit').length === 1`)
		if got := results(); len(got) != 1 || got[0] != "할인율 100% 확실" {
			t.Errorf("%%: %v", got)
		}
		// Paging: 60 fillers, 20 a page, newest first.
		search("채움 메시지")
		a.waitJS("a first page", `document.querySelectorAll('#chat-search-results .chat-search-hit').length === 20 && !document.querySelector('#chat-search-more').hidden`)
		a.do("more", chromedp.Click(chromedp.CSS("#chat-search-more")))
		a.waitJS("a second page", `document.querySelectorAll('#chat-search-results .chat-search-hit').length === 40`)
		if got := results(); got[0] != "채움 메시지 60" || got[39] != "채움 메시지 21" {
			t.Errorf("pages: first %q, last %q", got[0], got[39])
		}
		// Jumping to a message older than the loaded history loads it and highlights it.
		search("맨 처음")
		a.waitJS("one result", `document.querySelectorAll('#chat-search-results .chat-search-hit').length === 1`)
		if eval[bool](a, `!!(`+msgSel("맨 처음의 고양이 이야기")+`)`) {
			t.Fatalf("the first message was loaded already: the jump is not tested")
		}
		a.do("jump", chromedp.Click(chromedp.CSS("#chat-search-results .chat-search-jump")))
		a.waitJS("highlighted in view", `(() => { const li = `+msgSel("맨 처음의 고양이 이야기")+`; if (!li || !li.classList.contains('msg-found')) return false;
			const r = li.getBoundingClientRect(), l = document.querySelector('#chat-log').getBoundingClientRect(); return r.top >= l.top && r.bottom <= l.bottom; })()`)
		a.checkClean()
	})

	for _, tb := range []*tab{alice, bob, carol, staff} {
		tb.in(t).checkClean()
	}
}

// myID is the user id of the tab's logged-in user.
func myID(tb *tab) int64 {
	tb.t.Helper()
	return int64(eval[float64](tb, `fetch('/api/user/profile/').then(r => r.json()).then(p => p.id)`))
}

// postMessages sends texts to a room in order over REST, waiting out the
// send rate limit (429) instead of failing; 15 a call, so that no single
// evaluation outlasts its timeout.
func postMessages(tb *tab, roomID int64, texts []string) {
	tb.t.Helper()
	for len(texts) > 15 {
		postMessages(tb, roomID, texts[:15])
		texts = texts[15:]
	}
	res := eval[string](tb, fmt.Sprintf(`(async () => {
		for (const message of %s) {
			for (;;) {
				const r = await fetch('/api/chat/message/', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify({room: %d, message})});
				if (r.ok) break;
				if (r.status !== 429) return 'message: ' + r.status + ' ' + await r.text();
				await new Promise(ok => setTimeout(ok, 200));
			}
		}
		return 'ok';
	})()`, jsonStrings(texts), roomID))
	if res != "ok" {
		tb.t.Fatalf("%s: post messages: %s", tb.name, res)
	}
}

func jsonStrings(xs []string) string {
	quoted := make([]string, len(xs))
	for i, x := range xs {
		quoted[i] = jsString(x)
	}
	return "[" + strings.Join(quoted, ",") + "]"
}
