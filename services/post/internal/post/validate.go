package post

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/cobraspace/cobraspace/platform/apperr"
	"github.com/cobraspace/cobraspace/platform/fielderr"
	"github.com/cobraspace/cobraspace/platform/safetext"
)

// checkTitle trims a title (as Django REST framework does) and checks it
// is 1 to MaxTitleRunes characters.
func checkTitle(f fielderr.Fields, title string) string {
	title = strings.TrimSpace(title)
	if msg := textProblem(title, MaxTitleRunes); msg != "" {
		f.Add("title", msg)
	}
	return title
}

// textProblem is the field error of a text that is blank, refused by
// safetext or longer than maxLen characters ("" when it is fine).
func textProblem(text string, maxLen int) string {
	switch refused := refusedText(text); {
	case strings.TrimSpace(text) == "":
		return MsgBlank
	case refused != "":
		return refused
	case utf8.RuneCountInString(text) > maxLen:
		return tooLong(maxLen)
	}
	return ""
}

// checkContent checks content, which is stored exactly as written: not
// blank, at most MaxContentRunes characters.
func checkContent(f fielderr.Fields, content string) {
	if msg := textProblem(content, MaxContentRunes); msg != "" {
		f.Add("content", msg)
	}
}

// checkTags trims tag names and drops case-insensitive duplicates (the
// first spelling wins); at most MaxTags, each 1 to MaxTagRunes characters.
func checkTags(f fielderr.Fields, tags []string) []string {
	out := make([]string, 0, len(tags))
	seen := make(map[string]bool, len(tags))
	for _, t := range tags {
		t = strings.TrimSpace(t)
		if msg := textProblem(t, MaxTagRunes); msg != "" {
			f.Add("tags", msg)
			continue
		}
		key := strings.ToLower(t)
		if !seen[key] {
			seen[key] = true
			out = append(out, t)
		}
	}
	if len(out) > MaxTags {
		f.Add("tags", fmt.Sprintf("Ensure this field has no more than %d elements.", MaxTags))
	}
	return out
}

// checkCategoryName trims a new category's name; 1 to MaxCategoryRunes
// characters.
func checkCategoryName(name string) (string, error) {
	f := fielderr.Fields{}
	name = strings.TrimSpace(name)
	if msg := textProblem(name, MaxCategoryRunes); msg != "" {
		f.Add("name", msg)
	}
	return name, apperr.Invalid(f)
}

// SearchTerms splits a search string into terms as Django REST framework's
// SearchFilter did: on whitespace and commas. Every other character,
// including quotes, %, _ and \, is literal. At most MaxSearchTerms terms of
// a search of at most MaxSearchRunes characters.
func SearchTerms(search string) ([]string, error) {
	if utf8.RuneCountInString(search) > MaxSearchRunes {
		return nil, apperr.FieldError("search", tooLong(MaxSearchRunes))
	}
	if refused := refusedText(search); refused != "" {
		return nil, apperr.FieldError("search", refused)
	}
	terms := strings.FieldsFunc(search, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
	if len(terms) > MaxSearchTerms {
		return nil, apperr.FieldError("search", fmt.Sprintf("Use at most %d search terms.", MaxSearchTerms))
	}
	return terms, nil
}

// refusedText is safetext's message for text it refuses (NUL, control
// characters other than tab and line breaks, invalid UTF-8), or "".
// PostgreSQL cannot store a NUL nor take one as a query parameter.
func refusedText(s string) string {
	if err := safetext.Check(s); err != nil {
		return err.Error()
	}
	return ""
}

func tooLong(n int) string {
	return fmt.Sprintf("Ensure this field has no more than %d characters.", n)
}

// truncateRunes cuts s to at most n runes.
func truncateRunes(s string, n int) string {
	i := 0
	for pos := range s {
		if i == n {
			return s[:pos]
		}
		i++
	}
	return s
}
