package web_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/cobraspace/cobraspace/services/gateway/internal/stack"
)

// TestRepliesReactionsFormatting drives replies, reactions and formatted
// messages in Chromium against the real stack: Alice on gateway 1, Bob on
// gateway 2. A reaction by one shows on the other's screen and toggling
// removes it; a reply shows its quoted parent and appears in the thread
// view; a javascript: link renders as plain text while an https link is
// clickable (and safe), and a fenced code block renders as highlighted
// code, while the stored text stays as typed.
func TestRepliesReactionsFormatting(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test: skipped with -short")
	}
	s := stack.Start(t, stack.Options{Gateways: 2})
	browser := startBrowser(t)
	suffix := fmt.Sprint(time.Now().UnixNano() % 1e9)
	const pass = "correct-horse-battery-13"
	alice := newTab(t, browser, "alice", s.Gateways[0])
	bob := newTab(t, browser, "bob", s.Gateways[1])
	register(alice, "alice13."+suffix+"@example.com", "앨리스", pass)
	register(bob, "bob13."+suffix+"@example.com", "밥", pass)
	room := writePost(alice, "스레드와 반응", "replies", nil)
	for _, tb := range []*tab{alice, bob} {
		tb.open("/posts/" + room)
		tb.waitJS("connected", `document.querySelector('#chat-status')?.dataset.state === 'open' && !document.querySelector('#chat-input').disabled`)
	}
	send := func(tb *tab, text string) {
		tb.t.Helper()
		tb.do("send", setValue("#chat-input", text), chromedp.Click(chromedp.CSS("#chat-send")))
	}
	// msg selects the message bubble whose raw text is text.
	msg := func(text string) string {
		return `[...document.querySelectorAll('#chat-messages .msg[data-id]')].find(e => e.querySelector('.text')?.dataset.raw === ` + jsString(text) + `)`
	}

	send(alice, "hello thread")
	bob.waitJS("alice's message", msg("hello thread")+` !== undefined`)

	t.Run("reactions", func(t *testing.T) {
		a, b := alice.in(t), bob.in(t)
		// No reactions yet: no row; the bubble menu opens the picker.
		if n := eval[int](b, msg("hello thread")+`.querySelectorAll('.reactions:not([hidden])').length`); n != 0 {
			t.Errorf("a message without reactions shows %d reaction rows", n)
		}
		b.do("pick 👍", chromedp.Evaluate[chromedp.Void](`(() => { const m = `+msg("hello thread")+`; m.querySelector('.msg-more').click(); m.querySelector('.msg-react').click(); m.querySelector('.react-pick').click(); })()`))
		b.waitJS("bob's own chip", msg("hello thread")+`.querySelector('.react-chip.me .react-count')?.textContent === '1'`)
		a.waitJS("bob's reaction on alice's screen", `(() => { const c = `+msg("hello thread")+`.querySelector('.react-chip'); return c && c.dataset.emoji === '👍' && c.querySelector('.react-count').textContent === '1' && !c.classList.contains('me'); })()`)
		// Alice adds hers through the chip: 2, hers marked.
		a.do("alice's chip", chromedp.Evaluate[chromedp.Void](msg("hello thread")+`.querySelector('.react-chip').click()`))
		b.waitJS("count 2 on bob's screen", msg("hello thread")+`.querySelector('.react-chip .react-count')?.textContent === '2'`)
		a.waitJS("alice's chip marked", msg("hello thread")+`.querySelector('.react-chip.me .react-count')?.textContent === '2'`)
		// Both toggle off: the chip goes on both screens.
		b.do("bob toggles off", chromedp.Evaluate[chromedp.Void](msg("hello thread")+`.querySelector('.react-chip').click()`))
		a.waitJS("count 1 on alice's screen", msg("hello thread")+`.querySelector('.react-chip .react-count')?.textContent === '1'`)
		a.do("alice toggles off", chromedp.Evaluate[chromedp.Void](msg("hello thread")+`.querySelector('.react-chip').click()`))
		b.waitJS("no chip on bob's screen", msg("hello thread")+`.querySelector('.react-chip') === null && `+msg("hello thread")+`.querySelector('.reactions').hidden`)
		a.waitJS("no chip on alice's screen", msg("hello thread")+`.querySelector('.react-chip') === null && `+msg("hello thread")+`.querySelector('.reactions').hidden`)
	})

	t.Run("reply and thread", func(t *testing.T) {
		a, b := alice.in(t), bob.in(t)
		b.do("reply action", chromedp.Evaluate[chromedp.Void](`(() => { const m = `+msg("hello thread")+`; m.querySelector('.msg-more').click(); m.querySelector('.msg-reply').click(); })()`))
		b.waitJS("replying chip", `!document.querySelector('#chat-replyto').hidden`)
		send(b, "a reply from bob")
		for _, tb := range []*tab{a, b} {
			tb.waitJS("the reply with its quoted parent", `(() => { const m = `+msg("a reply from bob")+`; const q = m?.querySelector('.msg-quote'); return !!q && q.querySelector('.quote-text').textContent === 'hello thread' && q.querySelector('.quote-nick').textContent === '앨리스'; })()`)
			tb.waitJS("reply count 1", msg("hello thread")+`.querySelector('.msg-replies')?.dataset.count === '1'`)
		}
		b.waitJS("replying chip gone", `document.querySelector('#chat-replyto').hidden`)
		a.do("open the thread", chromedp.Evaluate[chromedp.Void](msg("hello thread")+`.querySelector('.msg-replies').click()`))
		a.waitJS("thread lists the reply", `!document.querySelector('#chat-thread').hidden && [...document.querySelectorAll('#thread-list .thread-msg .text')].map(e => e.textContent).join('|') === 'a reply from bob'`)
		// A new reply appears in the open thread live.
		b.do("second reply", chromedp.Evaluate[chromedp.Void](`(() => { const m = `+msg("hello thread")+`; m.querySelector('.msg-more').click(); m.querySelector('.msg-reply').click(); })()`))
		send(b, "and another")
		a.waitJS("thread follows live", `document.querySelectorAll('#thread-list .thread-msg').length === 2`)
		a.waitJS("reply count 2", msg("hello thread")+`.querySelector('.msg-replies')?.dataset.count === '2'`)
		a.do("close the thread", chromedp.Click(chromedp.CSS("#chat-thread .thread-close")))
	})

	t.Run("formatted messages", func(t *testing.T) {
		a, b := alice.in(t), bob.in(t)
		const links = "see [x](javascript:alert(1)) and javascript:alert(2) or https://example.com/a?b=1."
		const code = "look:\n```go\nfunc main() { fmt.Println(\"<b>hi</b>\") }\n```\nand `x := 1`"
		send(a, links)
		send(a, code)
		b.waitJS("both formatted messages", `!!(`+msg(links)+`) && !!(`+msg(code)+`)`)
		type linkInfo struct {
			Hrefs  []string `json:"hrefs"`
			Rel    string   `json:"rel"`
			Target string   `json:"target"`
			Text   string   `json:"text"`
		}
		l := eval[linkInfo](b, `(() => { const m = `+msg(links)+`; const as = [...m.querySelectorAll('.text a')];
			return { hrefs: as.map(a => a.getAttribute('href')), rel: as[0]?.rel || '', target: as[0]?.target || '', text: m.querySelector('.text').textContent }; })()`)
		if len(l.Hrefs) != 1 || l.Hrefs[0] != "https://example.com/a?b=1" || l.Rel != "noopener noreferrer nofollow" || l.Target != "_blank" {
			t.Errorf("links rendered %+v: want one https link with rel noopener noreferrer and target _blank", l)
		}
		if l.Text != links {
			t.Errorf("shown text %q, want the message as typed %q", l.Text, links)
		}
		type codeInfo struct {
			Lang, Code, Inline string
			Spans              int
		}
		c := eval[codeInfo](b, `(() => { const m = `+msg(code)+`; const pre = m.querySelector('.text pre code');
			return { lang: pre?.className || '', code: pre?.textContent || '', inline: m.querySelector('.text > code')?.textContent || '',
				spans: pre ? pre.querySelectorAll('span[class^=hljs]').length : 0 }; })()`)
		if c.Code != `func main() { fmt.Println("<b>hi</b>") }` || c.Spans == 0 || c.Inline != "x := 1" {
			t.Errorf("code rendered %+v: want a highlighted go block and inline code", c)
		}
		if n := eval[int](b, `document.querySelectorAll('#chat-messages .text b').length`); n != 0 {
			t.Errorf("%d <b> elements rendered from message text", n)
		}
		// Stored and delivered as typed.
		got := eval[string](b, `(async () => { const r = await fetch('/api/chat/room/' + `+jsString(room)+` + '/messages/?limit=50'); const list = await r.json(); return list.find(m => m.message.startsWith('look:'))?.message || ''; })()`)
		if got != code {
			t.Errorf("stored text %q, want %q", got, code)
		}
	})

	alice.checkClean()
	bob.checkClean()
}
