package web_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

var dateRe = regexp.MustCompile(`^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$`)

// TestBrowser drives the real client in Debian's Chromium against the real
// stack (user, post and chat services and two gateway replicas): Alice uses
// gateway 1, Bob gateway 2, each in a browser context of their own.
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test: skipped with -short")
	}
	gws := startStack(t, 2, nil)
	gw1, gw2 := gws[0], gws[1]
	browser := startBrowser(t)
	start := time.Now()
	suffix := fmt.Sprint(time.Now().UnixNano() % 1e9)
	alicePass, bobPass := "correct-horse-battery-1", "correct-horse-battery-2"
	aliceEmail, bobEmail, malloryEmail := "alice"+suffix+"@example.com", "bob"+suffix+"@example.com", "mallory"+suffix+"@example.com"
	const xssImg = `<img src=x onerror=alert(1)>`
	const xssScript = `<script>alert(1)</script>`
	const xssNick = `<svg onload=alert()>` // nicknames are at most 20 characters

	alice := newTab(t, browser, "alice", gw1)
	bob := newTab(t, browser, "bob", gw2)
	mallory := newTab(t, browser, "mallory", gw2)

	// --- sign up (field errors from the API show next to the fields), then log in ---
	signup := func(tb *tab, email, nickname, password string) {
		tb.open("/signup")
		tb.do("fill sign-up form with a weak password",
			chromedp.SendKeys(chromedp.CSS("#f-email"), email),
			chromedp.SendKeys(chromedp.CSS("#f-nickname"), nickname),
			chromedp.SendKeys(chromedp.CSS("#f-password1"), "12345678"),
			chromedp.SendKeys(chromedp.CSS("#f-password2"), "12345678"),
			chromedp.Click(chromedp.CSS("#signup-form button[type=submit]")))
		tb.waitJS("the password error next to the field", `!document.querySelector('#f-password1-error').hidden`)
		tb.do("fix the password",
			setValue("#f-password1", password),
			setValue("#f-password2", password),
			chromedp.Click(chromedp.CSS("#signup-form button[type=submit]")))
		tb.waitJS("redirect to the login page", `location.pathname === '/login' && document.querySelector('#f-email')?.value === `+jsString(email))
		tb.do("log in",
			chromedp.SendKeys(chromedp.CSS("#f-password"), password),
			chromedp.Click(chromedp.CSS("#login-form button[type=submit]")))
		tb.waitJS("logged in on the board", `location.pathname === '/' && !!document.querySelector('#account-btn')`)
	}
	signup(alice, aliceEmail, "앨리스", alicePass)
	signup(bob, bobEmail, "밥", bobPass)
	signup(mallory, malloryEmail, xssNick, bobPass) // a nickname that must stay text everywhere

	// --- write a post with a code block (and XSS payloads) with the live preview ---
	title := "gRPC 스트림 취소 질문 " + xssScript
	content := "Go에서 `context`로 스트림을 끊고 싶어요.\n\n```go\nfunc main() {\n\tctx, cancel := context.WithCancel(context.Background())\n\tdefer cancel()\n\tfmt.Println(ctx)\n}\n```\n\n" +
		xssImg + "\n\n" + xssScript + "\n\n[link](javascript:alert(1))\n"
	alice.open("/write")
	alice.waitJS("categories loaded", `document.querySelectorAll('#f-category option').length > 1`)
	alice.do("fill the post form",
		chromedp.SendKeys(chromedp.CSS("#f-title"), title),
		chromedp.Evaluate[chromedp.Void](`(() => { const s = document.querySelector('#f-category'); s.value = s.options[1].value; s.dispatchEvent(new Event('change')); })()`),
		chromedp.SendKeys(chromedp.CSS("#f-tags"), "go, grpc"),
		setValue("#f-content", content))
	alice.waitJS("the preview highlights the code", `!!document.querySelector('#preview pre code.hljs .hljs-keyword')`)
	alice.do("publish", chromedp.Click(chromedp.CSS("#write-form button[type=submit]")))
	alice.waitJS("the post page", `/^\/posts\/\d+$/.test(location.pathname) && !!document.querySelector('#post-content')`)
	postPath := eval[string](alice, `location.pathname`)

	// The detail renders highlighted code, and the payloads only as inert text/markup.
	alice.waitJS("highlighted code", `!!document.querySelector('#post-content pre code.hljs .hljs-keyword')`)
	if got := eval[string](alice, `document.querySelector('.post-title').textContent`); got != title {
		t.Errorf("post title: got %q, want %q", got, title)
	}
	if !eval[bool](alice, `document.querySelector('#post-content').textContent.includes(`+jsString(xssImg)+`)`) {
		t.Errorf("post content: the raw HTML payload is not shown as text")
	}
	if n := eval[int](alice, `document.querySelectorAll('#post-content script, #post-content [onerror], #post-content a[href^="javascript:"]').length`); n != 0 {
		t.Errorf("post content: got %d script/onerror/javascript: elements, want 0", n)
	}

	// --- the post appears on the board (both replicas) ---
	bob.open("/")
	bob.waitJS("the post card on the board", `[...document.querySelectorAll('.post-card-title')].some(e => e.textContent === `+jsString(title)+`)`)
	card := eval[map[string]string](bob, `(() => { const c = [...document.querySelectorAll('.post-card')].find(c => c.querySelector('.post-card-title').textContent === `+jsString(title)+`);
		return { excerpt: c.querySelector('.post-card-excerpt').textContent, date: c.querySelector('time').textContent, tags: c.querySelector('.tags').textContent, nick: c.querySelector('.nick').textContent }; })()`)
	if !strings.HasPrefix(card["excerpt"], "Go에서 context로 스트림을 끊고 싶어요.") || len([]rune(card["excerpt"])) > 101 {
		t.Errorf("card excerpt: got %q, want the first 100 characters of the text", card["excerpt"])
	}
	if !dateRe.MatchString(card["date"]) || card["tags"] != "#go#grpc" || card["nick"] != "앨리스" {
		t.Errorf("card: got %v, want YYYY-MM-DD HH:mm, #go#grpc, 앨리스", card)
	}
	bob.do("search from the header",
		chromedp.SendKeys(chromedp.CSS("#search-input"), "스트림 취소\n"))
	bob.waitJS("search results", `location.search.includes('search=') && document.querySelectorAll('.post-card').length === 1`)

	// --- both open the post: chat across the two replicas ---
	alice.open(postPath)
	alice.waitJS("alice connected", `document.querySelector('#chat-status')?.dataset.state === 'open' && !document.querySelector('#chat-input').disabled`)
	bob.open(postPath)
	bob.waitJS("bob connected", `document.querySelector('#chat-status')?.dataset.state === 'open'`)
	alice.waitJS("alice sees bob join", `[...document.querySelectorAll('.sys-join')].some(e => e.textContent.includes('밥'))`)
	alice.waitJS("two people online", `document.querySelectorAll('#chat-online li').length === 2`)

	send := func(tb *tab, text string) {
		tb.t.Helper()
		tb.do("send "+text, setValue("#chat-input", text), chromedp.Click(chromedp.CSS("#chat-send")))
	}
	texts := func(tb *tab) []string {
		return eval[[]string](tb, `[...document.querySelectorAll('#chat-messages .msg:not(.pending) .text')].map(e => e.textContent)`)
	}

	bob.do("type", chromedp.SendKeys(chromedp.CSS("#chat-input"), "잠깐만요"))
	alice.waitJS("typing indicator", `document.querySelector('#chat-typing').textContent.includes('밥')`)
	bob.do("clear the input", setValue("#chat-input", ""))
	send(bob, "안녕하세요 앨리스! "+xssScript)
	send(bob, xssImg)
	alice.waitJS("alice sees bob's messages", `document.querySelectorAll('#chat-messages .msg.theirs').length === 2`)
	send(alice, "반가워요, 질문 보셨나요?")
	bob.waitJS("bob sees alice's message", `[...document.querySelectorAll('#chat-messages .msg.theirs .text')].some(e => e.textContent === '반가워요, 질문 보셨나요?')`)
	alice.waitJS("own message on the right, acknowledged", `document.querySelector('#chat-messages .msg.mine:not(.pending)') !== null`)

	// Mallory, whose nickname is markup, joins, types and talks: all of it stays text.
	mallory.open(postPath)
	mallory.waitJS("mallory connected", `document.querySelector('#chat-status')?.dataset.state === 'open'`)
	alice.waitJS("alice sees mallory join", `[...document.querySelectorAll('.sys-join')].some(e => e.textContent.includes(`+jsString(xssNick)+`))`)
	mallory.do("type", chromedp.SendKeys(chromedp.CSS("#chat-input"), "hi"))
	alice.waitJS("mallory typing", `document.querySelector('#chat-typing').textContent.includes(`+jsString(xssNick)+`)`)
	send(mallory, xssNick)
	alice.waitJS("alice sees mallory's message", `document.querySelectorAll('#chat-messages .msg.theirs').length === 3`)
	if got := eval[string](alice, `[...document.querySelectorAll('#chat-messages .msg.theirs .nick')].pop().textContent`); got != xssNick {
		t.Errorf("nickname: got %q, want it shown as text %q", got, xssNick)
	}
	mallory.open("/") // a full navigation: the page closes its socket on pagehide
	alice.waitJS("alice sees mallory leave", `[...document.querySelectorAll('.sys-leave')].some(e => e.textContent.includes(`+jsString(xssNick)+`)) && document.querySelectorAll('#chat-online li').length === 2`)
	if n := eval[int](alice, `document.querySelectorAll('#chat script, #chat svg:not(.icon), #chat [onerror], #chat [onload], #header-actions svg:not(.icon)').length`); n != 0 {
		t.Errorf("chat: got %d script/onerror elements, want 0", n)
	}

	// --- cut Alice's socket; Bob talks meanwhile; Alice resumes with nothing lost or doubled ---
	alice.do("cut the socket and block reconnects", chromedp.Evaluate[chromedp.Void](`window.__blockWS = true; window.__sockets.forEach(s => s.close(4999))`))
	alice.waitJS("reconnecting state", `document.querySelector('#chat-status').dataset.state === 'reconnecting' && document.querySelector('#chat-input').disabled`)
	for i := 1; i <= 3; i++ {
		send(bob, fmt.Sprintf("끊긴 동안 %d", i))
	}
	bob.waitJS("bob's messages acknowledged", `document.querySelectorAll('#chat-messages .msg.pending').length === 0 && document.querySelectorAll('#chat-messages .msg.mine').length === 5`)
	// The network comes back the way a browser reports it (an "online"
	// event): the client reconnects at once instead of waiting out a backoff
	// that grew while it was blocked (up to 15 s).
	alice.do("unblock reconnects", chromedp.Evaluate[chromedp.Void](`window.__blockWS = false; window.dispatchEvent(new Event('online'))`))
	alice.waitJS("reconnected", `document.querySelector('#chat-status').dataset.state === 'open'`)
	alice.waitJS("missed messages arrived", `[...document.querySelectorAll('#chat-messages .text')].filter(e => e.textContent.startsWith('끊긴 동안')).length >= 3`)
	time.Sleep(300 * time.Millisecond) // a duplicate would arrive right behind
	got := texts(alice)
	want := []string{"안녕하세요 앨리스! " + xssScript, xssImg, "반가워요, 질문 보셨나요?", xssNick, "끊긴 동안 1", "끊긴 동안 2", "끊긴 동안 3"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("alice's messages after the resume:\n got %q\nwant %q", got, want)
	}
	seqs := eval[[]int](alice, `[...document.querySelectorAll('#chat-messages .msg[data-seq]')].map(e => Number(e.dataset.seq)).filter(Boolean)`)
	for i := 1; i < len(seqs); i++ {
		if seqs[i] != seqs[i-1]+1 {
			t.Errorf("seqs after the resume: got %v, want consecutive", seqs)
			break
		}
	}
	if !strings.Contains(eval[string](alice, `location.search + [...window.__sockets].map(s => s.url).join(' ')`), "after_seq=") {
		t.Errorf("the reconnect did not resume with after_seq")
	}

	// --- edit and delete own messages, seen live on the other replica ---
	alice.do("edit own message", chromedp.Click(chromedp.CSS(`#chat-messages .msg.mine .msg-more`)), chromedp.Click(chromedp.CSS(`#chat-messages .msg-menu:not([hidden]) .msg-edit`)))
	alice.do("save the edit", setValue("#chat-messages .msg-edit-input", "반가워요! 질문 보셨나요?"), chromedp.Click(chromedp.CSS(`#chat-messages .msg-edit-form button[type=submit]`)))
	bob.waitJS("bob sees the edit", `[...document.querySelectorAll('#chat-messages .msg.theirs')].some(m => m.querySelector('.text').textContent === '반가워요! 질문 보셨나요?' && !m.querySelector('.edited').hidden)`)
	alice.do("delete own message", chromedp.Click(chromedp.CSS(`#chat-messages .msg.mine .msg-more`)), chromedp.Click(chromedp.CSS(`#chat-messages .msg-menu:not([hidden]) .msg-delete`)))
	alice.waitJS("the confirm dialog", `!!document.querySelector('dialog[open] .btn-danger')`)
	alice.do("confirm", chromedp.Evaluate[chromedp.Void](`document.querySelector('dialog[open] .btn-danger').click()`))
	bob.waitJS("bob sees the delete", `document.querySelectorAll('#chat-messages .msg.deleted').length === 1`)

	// --- older messages load on scroll-up (history sends the last 50) ---
	seedMessages(bob, strings.TrimPrefix(postPath, "/posts/"), 55)
	alice.open(postPath)
	alice.waitJS("history", `document.querySelector('#chat-status')?.dataset.state === 'open' && document.querySelectorAll('#chat-messages .msg').length === 50`)
	alice.do("scroll up", chromedp.Evaluate[chromedp.Void](`document.querySelector('#chat-log').scrollTop = 0`))
	// 62 messages were sent; the one Alice deleted (seq 3) is a tombstone.
	alice.waitJS("older messages", `document.querySelectorAll('#chat-messages .msg').length === 62 && !!document.querySelector('#chat-messages .chat-start')`)
	seqs = eval[[]int](alice, `[...document.querySelectorAll('#chat-messages .msg')].map(e => Number(e.dataset.seq))`)
	for i, want := 0, 1; i < len(seqs); i, want = i+1, want+1 {
		if seqs[i] != want {
			t.Errorf("seqs after loading older: got %v, want 1..62", seqs)
			break
		}
	}
	if !eval[bool](alice, `document.querySelector('#chat-messages .msg[data-seq="3"]').matches('.tombstone.deleted')`) {
		t.Errorf("seq 3 (deleted) is not a tombstone after a reload")
	}

	// A new message does not yank a reader who scrolled up; a button offers the jump.
	alice.do("read older messages", chromedp.Evaluate[chromedp.Void](`document.querySelector('#chat-log').scrollTop = 0`))
	send(bob, "새 메시지가 와도 읽던 곳에 머뭅니다")
	alice.waitJS("the new-message button", `!document.querySelector('.chat-new').hidden && document.querySelector('#chat-log').scrollTop < 100`)
	alice.do("jump to the newest", chromedp.Evaluate[chromedp.Void](`document.querySelector('.chat-new').click()`))
	alice.waitJS("at the bottom", `(() => { const l = document.querySelector('#chat-log'); return l.scrollHeight - l.scrollTop - l.clientHeight < 48 && document.querySelector('.chat-new').hidden; })()`)

	// --- the writer edits, then deletes the post: its room closes (4000) for Bob ---
	bob.open(postPath)
	bob.waitJS("bob in the room", `document.querySelector('#chat-status')?.dataset.state === 'open'`)
	alice.do("edit the post", chromedp.Click(chromedp.CSS(`.post-actions a`)))
	alice.waitJS("the edit form", `location.pathname.endsWith('/edit') && document.querySelector('#f-title')?.value === `+jsString(title))
	title = "gRPC 스트림 취소 질문 (해결)"
	alice.do("save the edit", setValue("#f-title", title), chromedp.Click(chromedp.CSS("#write-form button[type=submit]")))
	alice.waitJS("the edited post", `location.pathname === `+jsString(postPath)+` && document.querySelector('.post-title')?.textContent === `+jsString(title))
	alice.do("delete the post", chromedp.Evaluate[chromedp.Void](`document.querySelector('#delete-post').click()`))
	alice.waitJS("the confirm dialog", `!!document.querySelector('dialog[open] .btn-danger')`)
	alice.do("confirm", chromedp.Evaluate[chromedp.Void](`document.querySelector('dialog[open] .btn-danger').click()`))
	alice.waitJS("back on the board", `location.pathname === '/'`)
	bob.waitJS("the room-deleted notice", `document.querySelector('#chat-banner')?.textContent === '채팅창이 삭제되었습니다' && document.querySelector('#chat-status').dataset.state === 'closed' && document.querySelector('#chat-input').disabled`)

	// --- profile: edit with a picture upload ---
	alice.open("/profile/edit")
	alice.do("edit the profile",
		setValue("#f-bio", "Go와 분산 시스템을 좋아하는 백엔드 개발자입니다."),
		setValue("#f-skills", "Go, PostgreSQL, Kubernetes"),
		setValue("#f-interests", "compilers, databases"),
		chromedp.SetUploadFiles(chromedp.CSS("#f-profile_picture"), []string{writePNG(t)}),
		chromedp.Click(chromedp.CSS("#f-is_private")),
		chromedp.Click(chromedp.CSS("#profile-form button[type=submit]")))
	alice.waitJS("the saved profile", `location.pathname === '/profile' && document.querySelectorAll('#profile .chip').length === 5`)
	alice.waitJS("the uploaded picture", `(() => { const i = document.querySelector('#profile img.avatar'); return !!i && i.complete && i.naturalWidth > 0; })()`)
	alice.screenshot("profile")

	// --- friends: Bob adds Alice, and she is private → the contract's message ---
	bob.open("/friends")
	bob.do("search alice", chromedp.SendKeys(chromedp.CSS("#friend-search"), aliceEmail+"\n"))
	bob.waitJS("alice in the results", `!!document.querySelector('#search-results .person[data-email="`+aliceEmail+`"] button')`)
	bob.do("add alice", chromedp.Click(chromedp.CSS(`#search-results .person button`)))
	bob.waitJS("alice in bob's friends", `!!document.querySelector('#friend-list .person[data-email="`+aliceEmail+`"]')`)
	bob.do("open alice's profile", chromedp.Click(chromedp.CSS(`#friend-list .person a.btn`)))
	bob.waitJS("the private message", `document.querySelector('#profile-private')?.textContent.includes('비공개 계정입니다')`)
	bob.open("/friends")
	bob.do("remove alice", chromedp.Click(chromedp.CSS(`#friend-list .person .btn-danger-ghost`)))
	bob.waitJS("no friends left", `!document.querySelector('#friend-list .person')`)

	// --- language switch, remembered across reloads ---
	alice.open("/")
	alice.do("switch to English", chromedp.Click(chromedp.CSS("#lang-toggle")))
	alice.waitJS("English UI", `document.querySelector('.main-nav a').textContent === 'All posts'`)
	alice.open("/")
	alice.waitJS("English after a reload", `document.querySelector('.main-nav a').textContent === 'All posts' && document.documentElement.lang === 'en'`)
	alice.do("switch back to Korean", chromedp.Click(chromedp.CSS("#lang-toggle")))
	alice.waitJS("Korean UI", `document.querySelector('.main-nav a').textContent === '전체보기'`)

	// --- a showcase for the screenshots: more posts, friendly names, a real conversation ---
	seed(alice, seedPosts[:3])
	seed(bob, seedPosts[3:])
	alice.open("/write")
	alice.waitJS("categories loaded", `document.querySelectorAll('#f-category option').length > 1`)
	alice.do("fill the showcase post",
		setValue("#f-title", "Go에서 context로 gRPC 스트림 취소하기"),
		chromedp.Evaluate[chromedp.Void](`(() => { const s = document.querySelector('#f-category'); s.value = [...s.options].find(o => o.textContent === 'Programming').value; })()`),
		setValue("#f-tags", "go, grpc, context"),
		setValue("#f-content", showcase))
	alice.waitJS("the preview", `!!document.querySelector('#preview pre code.hljs .hljs-keyword')`)
	alice.screenshot("write")
	alice.do("publish the showcase", chromedp.Click(chromedp.CSS("#write-form button[type=submit]")))
	alice.waitJS("the showcase post", `/^\/posts\/\d+$/.test(location.pathname) && location.pathname !== `+jsString(postPath)+` && !!document.querySelector('#post-content')`)
	showPath := eval[string](alice, `location.pathname`)
	alice.waitJS("alice connected to the showcase room", `document.querySelector('#chat-status')?.dataset.state === 'open'`)
	bob.open(showPath)
	bob.waitJS("bob connected to the showcase room", `document.querySelector('#chat-status')?.dataset.state === 'open'`)
	alice.waitJS("both online", `document.querySelectorAll('#chat-online li').length === 2`)
	send(bob, "클라이언트에서 cancel()하면 서버 핸들러의 ctx.Done()도 닫혀요 👍")
	alice.waitJS("bob's answer", `document.querySelectorAll('#chat-messages .msg.theirs').length === 1`)
	send(alice, "오 그렇군요! 그럼 Recv()는 어떤 에러를 돌려주나요?")
	bob.waitJS("alice's question", `document.querySelectorAll('#chat-messages .msg.theirs').length === 1`)
	send(bob, "status.Code(err) == codes.Canceled 로 확인하면 됩니다.")
	send(bob, "서버 쪽에서는 stream.Context().Err()를 보면 되고요.")
	alice.waitJS("bob's follow-ups", `document.querySelectorAll('#chat-messages .msg.theirs').length === 3`)
	// The server passes on one typing frame per 2 s per socket, and Bob's
	// sends above typed too (their indicator went when the messages came).
	time.Sleep(2100 * time.Millisecond)
	bob.do("type", chromedp.SendKeys(chromedp.CSS("#chat-input"), "예제"))
	alice.waitJS("typing indicator", `document.querySelector('#chat-typing').textContent.includes('밥')`)
	alice.screenshot("post-chat")
	alice.open("/")
	alice.waitJS("the board", `document.querySelectorAll('.post-card').length === 6`)
	alice.screenshot("board")

	// --- board: paging through the Link header, filters, ordering ---
	alice.open("/?limit=4")
	alice.waitJS("first page", `document.querySelectorAll('.post-card').length === 4 && !document.querySelector('.btn-more').hidden`)
	alice.do("load more", chromedp.Click(chromedp.CSS(".btn-more")))
	alice.waitJS("second page", `document.querySelectorAll('.post-card').length === 6 && document.querySelector('.btn-more').hidden`)
	if n := eval[int](alice, `new Set([...document.querySelectorAll('.post-card')].map(c => c.dataset.id)).size`); n != 6 {
		t.Errorf("paging: got %d distinct posts, want 6", n)
	}
	alice.do("filter by tag", chromedp.Click(chromedp.CSS(`.tag-cloud a[href*="tag=redis"]`)))
	alice.waitJS("tag filter", `location.search.includes('tag=redis') && document.querySelectorAll('.post-card:not(.skeleton)').length === 1`)
	alice.do("filter by category", chromedp.Click(chromedp.CSS(`.side-list a[href*="category="]:not([href$="category="])`)))
	alice.waitJS("category filter", `location.search.includes('category=') && !!document.querySelector('#post-list')`)
	alice.open("/?ordering=-hit")
	alice.waitJS("most viewed first", `(() => { const v = [...document.querySelectorAll('.post-card .views')].map(e => Number(e.textContent.replace(/\D/g, ''))); return v.length === 6 && v.every((x, i) => i === 0 || v[i-1] >= x) && v[0] > 0; })()`)

	// --- phone width: no horizontal scrolling; the chat sits below the post ---
	alice.open("/friends")
	alice.screenshot("friends")
	shots := map[string]string{"/": "board-phone", showPath: "post-chat-phone", "/write": "write-phone", "/profile": "profile-phone", "/friends": "friends-phone"}
	for _, path := range []string{"/", showPath, "/write", "/profile", "/friends"} {
		alice.do("phone viewport", chromedp.EmulateViewport(390, 844))
		alice.open(path)
		if w := eval[[]int](alice, `[document.documentElement.scrollWidth, window.innerWidth]`); w[0] > w[1] {
			t.Errorf("%s at phone width: page is %dpx wide in a %dpx window", path, w[0], w[1])
		}
		if path == showPath {
			alice.waitJS("the chat connected", `document.querySelector('#chat-status')?.dataset.state === 'open'`)
		}
		alice.screenshot(shots[path])
	}
	alice.do("desktop viewport", chromedp.EmulateViewport(1366, 813))

	// --- keyboard: the account menu opens with Enter, moves with arrows, closes with Escape ---
	alice.open("/")
	alice.do("focus the account button", chromedp.Focus(chromedp.CSS("#account-btn")), chromedp.KeyEvent("\r"))
	alice.waitJS("the menu open with focus inside", `!document.querySelector('#account-menu').hidden && document.activeElement.matches('#account-menu .menu-item')`)
	alice.do("arrow down", chromedp.KeyEvent(kb.ArrowDown))
	alice.waitJS("the second item focused", `document.activeElement === document.querySelectorAll('#account-menu .menu-item')[1]`)
	alice.do("escape", chromedp.KeyEvent(kb.Escape))
	alice.waitJS("the menu closed, focus back", `document.querySelector('#account-menu').hidden && document.activeElement.id === 'account-btn'`)

	// --- logout returns to the login page and closes the socket ---
	alice.open(showPath)
	alice.waitJS("alice connected again", `document.querySelector('#chat-status')?.dataset.state === 'open'`)
	bob.waitJS("bob sees alice back", `document.querySelectorAll('#chat-online li').length === 2`)
	alice.do("log out",
		chromedp.Click(chromedp.CSS("#account-btn")),
		chromedp.Click(chromedp.CSS("#logout-btn")))
	alice.waitJS("the login page", `location.pathname === '/login' && !!document.querySelector('#login-form') && !document.querySelector('#account-btn')`)
	alice.waitJS("the logout notice gone", `!document.querySelector('.toast')`)
	alice.screenshot("login")
	alice.do("phone viewport", chromedp.EmulateViewport(390, 844))
	alice.screenshot("login-phone")
	alice.do("desktop viewport", chromedp.EmulateViewport(1366, 813))
	alice.waitJS("every socket closed", `window.__sockets.length > 0 && window.__sockets.every(s => s.readyState === WebSocket.CLOSED)`)
	bob.waitJS("bob sees alice leave", `[...document.querySelectorAll('.sys-leave')].some(e => e.textContent.includes('앨리스')) && document.querySelectorAll('#chat-online li').length === 1`)

	alice.checkClean()
	bob.checkClean()
	mallory.checkClean()
	t.Logf("browser scenarios took %v", time.Since(start).Round(time.Millisecond))
}

const showcase = "서버 스트리밍 RPC를 클라이언트에서 중간에 끊고 싶습니다. `context.WithCancel`로 만든 ctx를 넘기면 될까요?\n\n" +
	"```go\nctx, cancel := context.WithCancel(context.Background())\ndefer cancel()\n\nstream, err := client.Watch(ctx, &pb.WatchRequest{Room: 42})\nif err != nil {\n\treturn err\n}\nfor {\n\tev, err := stream.Recv()\n\tif err != nil {\n\t\treturn err // 취소되면 codes.Canceled\n\t}\n\tfmt.Println(ev.GetMessage())\n}\n```\n\n" +
	"- 서버 핸들러의 `ctx.Done()`도 함께 닫히나요?\n- 취소한 뒤 `Recv()`는 어떤 에러를 돌려주나요?\n"

type seedPost struct {
	Title    string   `json:"title"`
	Content  string   `json:"content"`
	Category string   `json:"category"`
	Tags     []string `json:"tags"`
}

var seedPosts = []seedPost{
	{"PostgreSQL advisory lock으로 마이그레이션 직렬화하기", "레플리카 여러 개가 동시에 뜰 때 `pg_advisory_lock`으로 마이그레이션을 한 번만 돌리는 방법을 정리했습니다.", "Programming", []string{"postgres", "migrations"}},
	{"WebSocket 재연결 시 메시지 유실 막는 법", "마지막으로 받은 seq를 기억했다가 `after_seq`로 다시 붙으면 빠진 메시지를 순서대로 받을 수 있어요.", "Programming", []string{"websocket", "go"}},
	{"오르미 스터디원 모집합니다 🙌", "매주 토요일 오전에 Go 동시성 패턴을 같이 공부할 분을 찾습니다. 초보 환영!", "Ormi", nil},
	{"Redis Sorted Set으로 실시간 랭킹 만들기", "`ZINCRBY`와 `ZREVRANGE`만으로 충분할까요? 동점자 처리가 고민입니다.", "Programming", []string{"redis"}},
	{"Kubernetes readiness probe, 어떻게 설정하세요?", "드레인 중에는 readiness를 먼저 내리고 몇 초 기다린 뒤 종료하는 게 맞나요?", "ESTsoft", []string{"kubernetes", "devops"}},
}

// seedMessages posts n chat messages through the REST endpoint.
func seedMessages(tb *tab, postID string, n int) {
	tb.t.Helper()
	res := eval[string](tb, fmt.Sprintf(`(async () => {
		const post = await (await fetch('/api/post/detail/%s/')).json();
		const room = post.room_data ? post.room_data.id : post.room_id;
		for (let i = 1; i <= %d; i++) {
			for (;;) {
				const r = await fetch('/api/chat/message/', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify({room, message: 'older ' + i})});
				if (r.ok) break;
				if (r.status !== 429) return 'message: ' + r.status + ' ' + await r.text();
				await new Promise(ok => setTimeout(ok, 200));
			}
		}
		return 'ok';
	})()`, postID, n))
	if res != "ok" {
		tb.t.Fatalf("%s: seed messages: %s", tb.name, res)
	}
}

// seed writes posts through the API from the user's page (same origin, cookie auth).
func seed(tb *tab, posts []seedPost) {
	tb.t.Helper()
	b, _ := json.Marshal(posts)
	res := eval[string](tb, `(async () => {
		const cats = await (await fetch('/api/post/categories/')).json();
		for (const p of `+string(b)+`) {
			const body = {title: p.title, content: p.content, category: cats.find(c => c.name === p.category).id, tags: p.tags || []};
			const r = await fetch('/api/post/write/', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body)});
			if (!r.ok) return 'write: ' + r.status + ' ' + await r.text();
		}
		return 'ok';
	})()`)
	if res != "ok" {
		tb.t.Fatalf("%s: seed posts: %s", tb.name, res)
	}
}
