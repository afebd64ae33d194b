package web_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

var dateRe = regexp.MustCompile(`^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$`)

// TestBrowser drives the real client in Debian's Chromium against the real
// stack (user, post and chat services and two gateway replicas): Alice uses
// gateway 1, Bob gateway 2, each in a browser context of their own.
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test: skipped with -short")
	}
	gw1, gw2 := startStack(t)
	browser := startBrowser(t)
	start := time.Now()
	suffix := fmt.Sprint(time.Now().UnixNano() % 1e9)
	alicePass, bobPass := "correct-horse-battery-1", "correct-horse-battery-2"
	aliceEmail, bobEmail := "alice"+suffix+"@example.com", "bob"+suffix+"@example.com"
	const xssImg = `<img src=x onerror=alert(1)>`
	const xssScript = `<script>alert(1)</script>`
	const xssNick = `<svg onload=alert()>` // nicknames are at most 20 characters

	alice := newTab(t, browser, "alice", gw1)
	bob := newTab(t, browser, "bob", gw2)

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
	signup(bob, bobEmail, xssNick, bobPass) // a nickname that must stay text everywhere

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
	alice.screenshot("write")
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
	alice.waitJS("alice sees bob join", `[...document.querySelectorAll('.sys-join')].some(e => e.textContent.includes(`+jsString(xssNick)+`))`)
	alice.waitJS("two people online", `document.querySelectorAll('#chat-online li').length === 2`)

	send := func(tb *tab, text string) {
		tb.t.Helper()
		tb.do("send "+text, setValue("#chat-input", text), chromedp.Click(chromedp.CSS("#chat-send")))
	}
	texts := func(tb *tab) []string {
		return eval[[]string](tb, `[...document.querySelectorAll('#chat-messages .msg:not(.pending) .text')].map(e => e.textContent)`)
	}

	bob.do("type", chromedp.SendKeys(chromedp.CSS("#chat-input"), "잠깐만요"))
	alice.waitJS("typing indicator", `document.querySelector('#chat-typing').textContent.includes(`+jsString(xssNick)+`)`)
	bob.do("clear the input", setValue("#chat-input", ""))
	send(bob, "안녕하세요 앨리스! "+xssScript)
	send(bob, xssImg)
	alice.waitJS("alice sees bob's messages", `document.querySelectorAll('#chat-messages .msg.theirs').length === 2`)
	send(alice, "반가워요, 질문 보셨나요?")
	bob.waitJS("bob sees alice's message", `[...document.querySelectorAll('#chat-messages .msg.theirs .text')].some(e => e.textContent === '반가워요, 질문 보셨나요?')`)
	alice.waitJS("own message on the right, acknowledged", `document.querySelector('#chat-messages .msg.mine:not(.pending)') !== null`)
	if got := eval[string](alice, `document.querySelector('#chat-messages .msg.theirs .nick').textContent`); got != xssNick {
		t.Errorf("nickname: got %q, want it shown as text %q", got, xssNick)
	}
	if n := eval[int](alice, `document.querySelectorAll('#chat script, #chat svg, #chat [onerror], #chat [onload], #header-actions svg').length`); n != 0 {
		t.Errorf("chat: got %d script/onerror elements, want 0", n)
	}
	alice.screenshot("post-chat")

	// --- cut Alice's socket; Bob talks meanwhile; Alice resumes with nothing lost or doubled ---
	alice.do("cut the socket and block reconnects", chromedp.Evaluate[chromedp.Void](`window.__blockWS = true; window.__sockets.forEach(s => s.close(4999))`))
	alice.waitJS("reconnecting state", `document.querySelector('#chat-status').dataset.state === 'reconnecting' && document.querySelector('#chat-input').disabled`)
	for i := 1; i <= 3; i++ {
		send(bob, fmt.Sprintf("끊긴 동안 %d", i))
	}
	bob.waitJS("bob's messages acknowledged", `document.querySelectorAll('#chat-messages .msg.pending').length === 0 && document.querySelectorAll('#chat-messages .msg.mine').length === 5`)
	alice.do("unblock reconnects", chromedp.Evaluate[chromedp.Void](`window.__blockWS = false`))
	alice.waitJS("reconnected", `document.querySelector('#chat-status').dataset.state === 'open'`)
	alice.waitJS("missed messages arrived", `[...document.querySelectorAll('#chat-messages .text')].filter(e => e.textContent.startsWith('끊긴 동안')).length >= 3`)
	time.Sleep(300 * time.Millisecond) // a duplicate would arrive right behind
	got := texts(alice)
	want := []string{"안녕하세요 앨리스! " + xssScript, xssImg, "반가워요, 질문 보셨나요?", "끊긴 동안 1", "끊긴 동안 2", "끊긴 동안 3"}
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
	bob.waitJS("the private message", `document.querySelector('#profile-private')?.textContent.includes('This account is private.')`)

	// --- board screenshot with the language switch round trip ---
	alice.open("/")
	alice.do("switch to English", chromedp.Click(chromedp.CSS("#lang-toggle")))
	alice.waitJS("English UI", `document.querySelector('.main-nav a').textContent === 'All posts'`)
	alice.do("switch back to Korean", chromedp.Click(chromedp.CSS("#lang-toggle")))
	alice.waitJS("Korean UI", `document.querySelector('.main-nav a').textContent === '전체보기' && document.querySelectorAll('.post-card').length > 0`)
	alice.screenshot("board")

	// --- logout returns to the login page and closes the socket ---
	alice.open(postPath)
	alice.waitJS("alice connected again", `document.querySelector('#chat-status')?.dataset.state === 'open'`)
	bob.open(postPath)
	bob.waitJS("bob connected again", `document.querySelector('#chat-status')?.dataset.state === 'open' && document.querySelectorAll('#chat-online li').length === 2`)
	alice.do("log out",
		chromedp.Click(chromedp.CSS("#account-btn")),
		chromedp.Click(chromedp.CSS("#logout-btn")))
	alice.waitJS("the login page", `location.pathname === '/login' && !!document.querySelector('#login-form') && !document.querySelector('#account-btn')`)
	alice.waitJS("every socket closed", `window.__sockets.every(s => s.readyState === WebSocket.CLOSED)`)
	bob.waitJS("bob sees alice leave", `[...document.querySelectorAll('.sys-leave')].some(e => e.textContent.includes('앨리스')) && document.querySelectorAll('#chat-online li').length === 1`)

	alice.checkClean()
	bob.checkClean()
	t.Logf("browser scenarios took %v", time.Since(start).Round(time.Millisecond))
}
