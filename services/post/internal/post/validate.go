package post

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// checkTitle trims a title (as Django REST framework does) and checks it
// is 1 to MaxTitleRunes characters.
func checkTitle(f fieldErrors, title string) string {
	title = strings.TrimSpace(title)
	switch {
	case title == "":
		f.add("title", MsgBlank)
	case strings.ContainsRune(title, 0):
		f.add("title", MsgNullCharacter)
	case utf8.RuneCountInString(title) > MaxTitleRunes:
		f.add("title", tooLong(MaxTitleRunes))
	}
	return title
}

// checkContent checks content, which is stored exactly as written: not
// blank, at most MaxContentRunes characters.
func checkContent(f fieldErrors, content string) {
	switch {
	case strings.TrimSpace(content) == "":
		f.add("content", MsgBlank)
	case strings.ContainsRune(content, 0):
		f.add("content", MsgNullCharacter)
	case utf8.RuneCountInString(content) > MaxContentRunes:
		f.add("content", tooLong(MaxContentRunes))
	}
}

// checkTags trims tag names and drops case-insensitive duplicates (the
// first spelling wins); at most MaxTags, each 1 to MaxTagRunes characters.
func checkTags(f fieldErrors, tags []string) []string {
	out := make([]string, 0, len(tags))
	seen := make(map[string]bool, len(tags))
	for _, t := range tags {
		t = strings.TrimSpace(t)
		switch {
		case t == "":
			f.add("tags", MsgBlank)
			continue
		case strings.ContainsRune(t, 0):
			f.add("tags", MsgNullCharacter)
			continue
		case utf8.RuneCountInString(t) > MaxTagRunes:
			f.add("tags", tooLong(MaxTagRunes))
			continue
		}
		key := strings.ToLower(t)
		if !seen[key] {
			seen[key] = true
			out = append(out, t)
		}
	}
	if len(out) > MaxTags {
		f.add("tags", fmt.Sprintf("Ensure this field has no more than %d elements.", MaxTags))
	}
	return out
}

// checkCategoryName trims a new category's name; 1 to MaxCategoryRunes
// characters.
func checkCategoryName(name string) (string, error) {
	f := fieldErrors{}
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		f.add("name", MsgBlank)
	case strings.ContainsRune(name, 0):
		f.add("name", MsgNullCharacter)
	case utf8.RuneCountInString(name) > MaxCategoryRunes:
		f.add("name", tooLong(MaxCategoryRunes))
	}
	return name, f.err()
}

// SearchTerms splits a search string into terms as Django REST framework's
// SearchFilter did: on whitespace and commas. Every other character,
// including quotes, %, _ and \, is literal. At most MaxSearchTerms terms of
// a search of at most MaxSearchRunes characters.
func SearchTerms(search string) ([]string, error) {
	if utf8.RuneCountInString(search) > MaxSearchRunes {
		return nil, FieldError("search", tooLong(MaxSearchRunes))
	}
	if strings.ContainsRune(search, 0) {
		return nil, FieldError("search", MsgNullCharacter)
	}
	terms := strings.FieldsFunc(search, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
	if len(terms) > MaxSearchTerms {
		return nil, FieldError("search", fmt.Sprintf("Use at most %d search terms.", MaxSearchTerms))
	}
	return terms, nil
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
