package web_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserHiddenMessages: alice blocks bob from his profile; in alice's chat (gateway 1)
// bob's messages (gateway 2) show the "blocked user" line instead of their
// text, in history and live, and no text of his reaches the page.
func TestBrowserHiddenMessages(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test: skipped with -short")
	}
	gws := startStack(t, 2, nil)
	browser := startBrowser(t)
	alice, bob := newTab(t, browser, "alice", gws[0]), newTab(t, browser, "bob", gws[1])
	suffix := fmt.Sprint(time.Now().UnixNano() % 1e9)

	// post sends a JSON POST from the page (its cookies) and answers the body.
	const post = `const post = (u, b) => fetch(u, {method: 'POST', credentials: 'same-origin',
		headers: {'Content-Type': 'application/json'}, body: JSON.stringify(b)}).then(r => r.json());`
	signIn := func(tb *tab, name string) float64 {
		tb.open("/")
		email := name + suffix + "@example.com"
		return eval[float64](tb, `(async () => { `+post+`
			await post('/api/user/registration/', {email: `+jsString(email)+`, password: 'correct-horse-battery-7'});
			const r = await post('/api/user/login/', {email: `+jsString(email)+`, password: 'correct-horse-battery-7'});
			localStorage.setItem('cobra.session', '1'); // what the login page leaves (session.js)
			return r.profile.id; })()`)
	}
	signIn(alice, "hidealice")
	bobID := signIn(bob, "hidebob")

	p := eval[map[string]float64](alice, `(async () => { `+post+`
		const cats = await fetch('/api/post/categories/', {credentials: 'same-origin'}).then(r => r.json());
		const p = await post('/api/post/write/', {title: 'blocks', content: 'hidden messages', category: cats[0].id});
		return {id: p.id, room: p.room_id}; })()`)
	say := func(text string) {
		eval[float64](bob, `(async () => { `+post+` return (await post('/api/chat/message/', {room: `+fmt.Sprint(p["room"])+`, message: `+jsString(text)+`})).id; })()`)
	}
	say("bob before the block")
	// Alice blocks Bob from his profile; the toggle then offers the unblock,
	// also after a reload (read back from her blocks).
	alice.open(fmt.Sprintf("/users/%d", int64(bobID)))
	alice.waitJS("the block toggle", `(() => { const b = document.querySelector('#block-toggle'); return !!b && !b.disabled && b.textContent === '차단하기'; })()`)
	alice.do("block", chromedp.Click(chromedp.CSS("#block-toggle")))
	alice.waitJS("blocked", `document.querySelector('#block-toggle').textContent === '차단 해제'`)
	alice.open(fmt.Sprintf("/users/%d", int64(bobID)))
	alice.waitJS("still blocked after a reload", `(() => { const b = document.querySelector('#block-toggle'); return !!b && !b.disabled && b.textContent === '차단 해제'; })()`)
	say("bob secret after the block")

	alice.open(fmt.Sprintf("/posts/%d", int64(p["id"])))
	alice.waitJS("alice connected", `document.querySelector('#chat-status')?.dataset.state === 'open'`)
	alice.waitJS("bob's two messages hidden in history", `document.querySelectorAll('#chat-messages .text.hidden-msg').length === 2`)
	say("bob live secret")
	alice.waitJS("bob's live message hidden", `document.querySelectorAll('#chat-messages .text.hidden-msg').length === 3`)
	if got := eval[string](alice, `document.querySelector('#chat-messages .text.hidden-msg').textContent`); got != "차단한 사용자의 메시지입니다." {
		t.Errorf("hidden line = %q", got)
	}
	if eval[bool](alice, `document.body.textContent.includes('secret') || document.body.textContent.includes('bob before')`) {
		t.Errorf("a blocked user's text reached the page")
	}
	alice.checkClean()
	bob.checkClean()
}
