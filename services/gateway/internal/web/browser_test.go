package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromiumPath is Debian's Chromium; `make test` installs it (scripts/deps.sh --browser).
const chromiumPath = "/usr/bin/chromium"

// instrument runs before the app's scripts in every page: it records CSP
// violations (the app must never need inline script or style) and keeps the
// page's WebSockets reachable, so a test can cut a socket the way a network
// failure would, block reconnects for a while, and read the code each
// socket was closed with (__closeCode).
const instrument = `(() => {
  window.__csp = [];
  document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + e.sourceFile + ':' + e.lineNumber + ' ' + e.sample));
  const Native = window.WebSocket;
  window.__sockets = [];
  window.__blockWS = false;
  window.WebSocket = class extends Native {
    constructor(url, protocols) {
      // While blocked, connect to a closed port: the handshake fails like a dead network.
      super(window.__blockWS ? 'ws://127.0.0.1:9/blocked' : url, protocols);
      window.__sockets.push(this);
      this.addEventListener('close', (e) => { this.__closeCode = e.code; });
    }
  };
})();`

// tab is one browser tab in its own browser context (own cookies and storage).
type tab struct {
	t    *testing.T
	name string
	ctx  context.Context
	base string // the gateway this user talks to

	mu      sync.Mutex
	dialogs []string
	errors  []string
}

func newTab(t *testing.T, browser context.Context, name, base string) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	tb := &tab{t: t, name: name, ctx: ctx, base: base}
	if err := chromedp.Listen(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *page.EventJavascriptDialogOpening:
			tb.mu.Lock()
			tb.dialogs = append(tb.dialogs, fmt.Sprintf("%s: %q", ev.Type, ev.Message))
			tb.mu.Unlock()
			// A dialog blocks the page; dismiss it from another goroutine (Listen callbacks may not call commands).
			go chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false}) //nolint:errcheck // the dialog may already be gone; the test reports the page's errors itself
		case *runtime.EventExceptionThrown:
			tb.mu.Lock()
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil && d.Exception.Description != "" {
				msg = d.Exception.Description
			}
			tb.errors = append(tb.errors, fmt.Sprintf("%s (%s:%d)", msg, d.URL, d.LineNumber+1))
			tb.mu.Unlock()
		}
	}); err != nil {
		t.Fatalf("%s: listen: %v", name, err)
	}
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: instrument}); err != nil {
		t.Fatalf("%s: add script: %v", name, err)
	}
	return tb
}

// do runs actions and fails the test (with the page's URL) on error.
func (tb *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		loc, _ := chromedp.Run(tb.ctx, chromedp.Location())
		tb.t.Fatalf("%s: %s (at %s): %v; page errors: %v", tb.name, what, loc, err, tb.pageErrors())
	}
}

// eval evaluates a JavaScript expression and decodes its JSON result into T.
func eval[T any](tb *tab, expr string) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.t.Fatalf("%s: eval %s: %v", tb.name, expr, err)
	}
	return v
}

// waitJS waits until a JavaScript expression is truthy.
func (tb *tab) waitJS(what, expr string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 15*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(14*time.Second))); err != nil {
		loc, _ := chromedp.Run(tb.ctx, chromedp.Location())
		tb.t.Fatalf("%s: waiting for %s (at %s): %v; page errors: %v", tb.name, what, loc, err, tb.pageErrors())
	}
}

// pageErrors lists uncaught script errors and the error messages the page
// shows (form errors, toasts), for failure messages.
func (tb *tab) pageErrors() []string {
	tb.mu.Lock()
	out := append([]string(nil), tb.errors...)
	tb.mu.Unlock()
	ctx, cancel := context.WithTimeout(tb.ctx, 2*time.Second)
	defer cancel()
	shown, _ := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('.field-error:not([hidden]), .form-error:not([hidden]), .toast, .empty-state, .chat-banner:not([hidden]), .chat-status, #chat-messages .sys, #chat-online li')].map(e => e.className + ': ' + e.textContent)`))
	return append(out, shown...)
}

// checkClean fails when a JS dialog opened, a script threw, or the CSP blocked something.
func (tb *tab) checkClean() {
	tb.t.Helper()
	tb.mu.Lock()
	dialogs, errs := append([]string(nil), tb.dialogs...), append([]string(nil), tb.errors...)
	tb.mu.Unlock()
	if len(dialogs) > 0 {
		tb.t.Errorf("%s: JavaScript dialogs opened (XSS?): %v", tb.name, dialogs)
	}
	if len(errs) > 0 {
		tb.t.Errorf("%s: uncaught page errors: %v", tb.name, errs)
	}
	if v := eval[[]string](tb, `window.__csp || []`); len(v) > 0 {
		tb.t.Errorf("%s: CSP violations: %v", tb.name, v)
	}
}

func (tb *tab) open(path string) {
	tb.t.Helper()
	tb.do("open "+path, chromedp.Navigate(tb.base+path), chromedp.WaitReady(chromedp.CSS("#main[data-ready]")))
}

// screenshot saves the viewport as docs/screenshots/<name>.png.
func (tb *tab) screenshot(name string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 15*time.Second)
	defer cancel()
	// Let fonts, avatars and highlighting settle, and hide the text caret.
	err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`document.fonts.ready`, chromedp.EvalAwaitPromise),
		chromedp.Evaluate[chromedp.Void](`document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0)`))
	var img []byte
	if err == nil {
		img, err = chromedp.Run(ctx, chromedp.CaptureScreenshot())
	}
	if err != nil {
		tb.t.Errorf("%s: screenshot %s: %v", tb.name, name, err)
		return
	}
	dir := filepath.Join("..", "..", "..", "..", "docs", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.t.Fatal(err)
	}
	if !hasKoreanFont() {
		tb.t.Logf("screenshot %s not saved: no Korean font (apt-get install fonts-noto-cjk)", name)
		return
	}
	file := filepath.Join(dir, name+".png")
	if old, err := os.ReadFile(file); err == nil && !differs(old, img) {
		return // only dates and random names changed: keep the committed file
	}
	if err := os.WriteFile(file, img, 0o644); err != nil {
		tb.t.Fatal(err)
	}
}

// hasKoreanFont tells whether Chromium can draw the Korean UI; without one
// the screenshots would show empty boxes and must not replace the committed ones.
func hasKoreanFont() bool {
	out, err := exec.Command("fc-list", ":lang=ko").Output()
	return err == nil && len(bytes.TrimSpace(out)) > 0
}

// differs reports whether two PNGs differ in more than 2% of their pixels
// (or in size), i.e. whether the page looks meaningfully different.
func differs(a, b []byte) bool {
	ia, err1 := png.Decode(bytes.NewReader(a))
	ib, err2 := png.Decode(bytes.NewReader(b))
	if err1 != nil || err2 != nil || ia.Bounds() != ib.Bounds() {
		return true
	}
	r := ia.Bounds()
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			r1, g1, b1, _ := ia.At(x, y).RGBA()
			r2, g2, b2, _ := ib.At(x, y).RGBA()
			if r1 != r2 || g1 != g2 || b1 != b2 {
				n++
			}
		}
	}
	return n*50 > r.Dx()*r.Dy()
}

// setValue sets a form control's value the way typing would end (an input event follows).
func setValue(sel, v string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](`(() => { const e = document.querySelector(` + jsString(sel) + `); e.value = ` + jsString(v) + `; e.dispatchEvent(new Event('input', {bubbles: true})); })()`)
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func writePNG(t *testing.T) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 64, 64))
	for y := range 64 {
		for x := range 64 {
			img.Set(x, y, color.RGBA{R: uint8(15 + x*2), G: uint8(118 + y), B: 110, A: 255})
		}
	}
	p := filepath.Join(t.TempDir(), "avatar.png")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	return p
}

func startBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("%s is missing: run scripts/deps.sh --browser (make test does): %v", chromiumPath, err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
		chromedp.Flag("lang", "ko-KR"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1366, 900),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	browser, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(browser); err != nil { // starts the browser
		t.Fatalf("start chromium: %v", err)
	}
	return browser
}
