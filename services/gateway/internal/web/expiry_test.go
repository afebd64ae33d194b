package web_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserTokenExpiry runs with 3-second access tokens: the chat socket
// is closed with 4001 when its token expires, and the client refreshes the
// token (refresh cookie) and reconnects by itself; REST calls refresh on 401.
func TestBrowserTokenExpiry(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test: skipped with -short")
	}
	gws := startStack(t, 1, map[string]string{"ACCESS_TOKEN_TTL": "3s"})
	browser := startBrowser(t)
	carol := newTab(t, browser, "carol", gws[0])
	email := fmt.Sprintf("carol%d@example.com", time.Now().UnixNano()%1e9)
	const password = "correct-horse-battery-3"

	carol.open("/signup")
	carol.do("sign up",
		chromedp.SendKeys(chromedp.CSS("#f-email"), email),
		setValue("#f-password1", password),
		setValue("#f-password2", password),
		chromedp.Click(chromedp.CSS("#signup-form button[type=submit]")))
	carol.waitJS("the login page", `location.pathname === '/login' && document.querySelector('#f-email')?.value !== ''`)
	carol.do("log in", setValue("#f-password", password), chromedp.Click(chromedp.CSS("#login-form button[type=submit]")))
	carol.waitJS("logged in", `!!document.querySelector('#account-btn')`)
	seed(carol, seedPosts[:1])
	carol.open("/")
	carol.do("open the post", chromedp.Click(chromedp.CSS(".post-card-title a")))
	// The open socket, picked in the same breath as it is seen open: on a
	// busy machine the first handshake may already have failed with an
	// expired token (then a refresh and a second socket followed), and the
	// open one may expire any moment.
	carol.waitJS("an open socket", `document.querySelector('#chat-status')?.dataset.state === 'open' && !!(window.__firstSocket = window.__sockets.findLast(s => s.readyState === WebSocket.OPEN))`)

	// That socket ends with its token (4001); a new one, made after a refresh, takes over.
	carol.waitJS("the expired socket closed and a new one open", `window.__firstSocket.readyState === WebSocket.CLOSED && window.__sockets.at(-1) !== window.__firstSocket && document.querySelector('#chat-status').dataset.state === 'open'`)
	if code := eval[int](carol, `window.__firstSocket.__closeCode`); code != 4001 {
		t.Errorf("the expired socket was closed with %d (all sockets: %s), want 4001 (token expired)", code,
			eval[string](carol, `window.__sockets.map(s => s.__closeCode).join(' ')`))
	}
	carol.do("send after the refresh", setValue("#chat-input", "토큰이 바뀐 뒤에도 잘 됩니다"), chromedp.Click(chromedp.CSS("#chat-send")))
	carol.waitJS("acknowledged", `!!document.querySelector('#chat-messages .msg.mine:not(.pending)')`)

	// REST: the page still works after the access token expired.
	time.Sleep(3500 * time.Millisecond)
	carol.open("/profile")
	carol.waitJS("own profile after expiry", `document.querySelector('.profile-id p')?.textContent === `+jsString(email))
	carol.checkClean()
}
