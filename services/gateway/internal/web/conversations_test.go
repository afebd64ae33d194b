package web_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/cobraspace/cobraspace/services/gateway/internal/stack"
)

// TestConversations checks the client side of issue #12 in Chromium against
// the real stack with two gateway replicas: Alice on gateway 1, Bob on
// gateway 2. Bob mentions Alice; her bell counts it live and clears it, her
// "my rooms" badge follows the room's unread count, the room shows where
// she left off, and @ completes nicknames. Desktop, then phone.
func TestConversations(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test: skipped with -short")
	}
	s := stack.Start(t, stack.Options{Gateways: 2})
	browser := startBrowser(t)
	suffix := fmt.Sprint(time.Now().UnixNano() % 1e6)
	const pass = "correct-horse-battery-12"
	aliceNick, bobNick := "alice"+suffix, "bob"+suffix

	for _, v := range []viewport{desktop, phone} {
		t.Run(v.name, func(t *testing.T) {
			tag := v.name + suffix
			alice := newTab(t, browser, "alice", s.Gateways[0])
			bob := newTab(t, browser, "bob", s.Gateways[1])
			alice.viewport(v)
			bob.viewport(v)
			an, bn := aliceNick+v.name[:1], bobNick+v.name[:1]
			register(alice, "alice12."+tag+"@example.com", an, pass)
			register(bob, "bob12."+tag+"@example.com", bn, pass)
			post := writePost(bob, "대화 "+tag, "conversations", nil)
			openRoom := func(tb *tab) {
				tb.t.Helper()
				tb.open("/posts/" + post)
				tb.waitJS("connected", `document.querySelector('#chat-status')?.dataset.state === 'open' && !document.querySelector('#chat-input').disabled`)
			}
			send := func(tb *tab, text string) {
				tb.t.Helper()
				tb.do("send "+text, setValue("#chat-input", text), chromedp.Click(chromedp.CSS("#chat-send")))
				tb.waitJS("sent "+text, `[...document.querySelectorAll('#chat-messages .msg.mine:not(.pending) .text')].some(e => e.textContent === `+jsString(text)+`)`)
			}

			// Alice takes part in the room (her socket makes her a member),
			// says something, then goes back to the board.
			openRoom(alice)
			openRoom(bob)
			send(alice, "안녕하세요")
			alice.open("/")
			alice.waitJS("user stream open", `document.documentElement.dataset.userStream === 'open'`)
			if got := eval[string](alice, `document.querySelector('#bell-badge').hidden ? '' : document.querySelector('#bell-badge').textContent`); got != "" {
				t.Fatalf("bell before any mention: %q", got)
			}

			// Bob mentions her from the other replica: the bell counts it,
			// the tab title too.
			send(bob, "@"+strings.ToUpper(an)+" 이것 좀 봐 주세요")
			alice.waitJS("bell shows 1", `!document.querySelector('#bell-badge').hidden && document.querySelector('#bell-badge').textContent === '1'`)
			alice.waitJS("title counts", `/^\(\d+\) /.test(document.title)`)

			// My rooms: the room with its unread badge, kept live.
			alice.open("/rooms")
			row := `document.querySelector('#myrooms .myroom .unread-badge')`
			alice.waitJS("my-rooms badge 1", row+`?.textContent === '1'`)
			send(bob, "두 번째")
			send(bob, "세 번째")
			alice.waitJS("my-rooms badge 3 live", row+`?.textContent === '3'`)
			if got := eval[string](alice, `document.querySelector('#myrooms .myroom-last').textContent`); !strings.Contains(got, "세 번째") {
				t.Errorf("last message shown: %q", got)
			}

			// The bell's list: open it, open the mention: it is read, and the
			// room opens with the unread line above Bob's first new message.
			shot := map[bool]string{true: "", false: "-phone"}[v == desktop]
			alice.screenshot("my-rooms" + shot)
			alice.do("open bell", chromedp.Click(chromedp.CSS("#bell-btn")))
			alice.waitJS("mention listed", `document.querySelector('#bell-list .bell-item.unread[data-kind="mention"]') !== null`)
			alice.screenshot("notifications" + shot)
			if v == phone {
				// The panel fits the phone's screen.
				if ok := eval[bool](alice, `(() => { const r = document.querySelector('#bell-panel').getBoundingClientRect(); return r.left >= 0 && r.right <= innerWidth; })()`); !ok {
					t.Error("bell panel overflows the phone screen")
				}
			}
			alice.do("open mention", chromedp.Click(chromedp.CSS("#bell-list .bell-item .bell-open")))
			alice.waitJS("room opened", `location.pathname === '/posts/`+post+`' && document.querySelector('#chat-status')?.dataset.state === 'open'`)
			alice.waitJS("bell cleared", `document.querySelector('#bell-badge').hidden`)
			alice.waitJS("unread line", `(() => { const l = document.querySelector('#unread-line'); const n = l && l.nextElementSibling; return !!n && n.matches('.msg.theirs') && n.querySelector('.text').textContent.includes('이것 좀 봐'); })()`)
			alice.waitJS("mention highlighted", `document.querySelector('.msg.mentions-me .mention-me') !== null`)
			// Viewing the room read it: the title has no count any more, and
			// my rooms shows no badge.
			alice.waitJS("title cleared", `!/^\(\d+\) /.test(document.title)`)
			alice.open("/rooms")
			alice.waitJS("rooms listed", `document.querySelector('#myrooms .myroom') !== null`)
			alice.waitJS("no badge after reading", `document.querySelector('#myrooms .unread-badge') === null`)

			// @ autocomplete of the room's nicknames.
			openRoom(alice)
			alice.waitJS("history and presence in", `document.querySelectorAll('#chat-messages .msg.theirs').length >= 3 && document.querySelectorAll('#chat-online li').length >= 2`)
			alice.do("type @", chromedp.Focus(chromedp.CSS("#chat-input")), setValue("#chat-input", "@"+bn[:4]))
			alice.waitJS("suggestion", `!document.querySelector('#mention-suggest').hidden && [...document.querySelectorAll('#mention-suggest .mention-option')].some(e => e.textContent === '@`+bn+`')`)
			// Enter as the keydown a keyboard makes (CDP's synthetic key
			// events insert the character whatever the page does).
			alice.do("pick", chromedp.Evaluate[chromedp.Void](`document.querySelector('#chat-input').dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', bubbles: true, cancelable: true}))`))
			if got := eval[string](alice, `document.querySelector('#chat-input').value`); got != "@"+bn+" " {
				t.Errorf("after picking: input %q", got)
			}
			if n := eval[int](alice, `document.querySelectorAll('#chat-messages .msg.mine').length`); n != 1 {
				t.Errorf("Enter on the suggestion sent a message: %d own messages", n)
			}
			alice.checkClean()
			bob.checkClean()
		})
	}
}
