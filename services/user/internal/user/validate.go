package user

import (
	"bufio"
	"bytes"
	_ "embed"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/cobraspace/cobraspace/platform/apperr"
	"github.com/cobraspace/cobraspace/platform/fielderr"
	"github.com/cobraspace/cobraspace/platform/safetext"
)

// Limits of profile fields.
const (
	MaxEmailLen         = 254
	MaxPasswordLen      = 128
	MinPasswordLen      = 8
	MaxNicknameLen      = 20
	MaxBioLen           = 500
	MaxListItems        = 20 // skills, interests
	MaxListItemLen      = 40
	MaxContactNumberLen = 20
	// maxSimilarity is Django's UserAttributeSimilarityValidator default.
	maxSimilarity = 0.7
)

// Messages of Django's password validators, kept word for word.
const (
	MsgPasswordTooShort = "This password is too short. It must contain at least 8 characters."
	MsgPasswordNumeric  = "This password is entirely numeric."
	MsgPasswordCommon   = "This password is too common."
	MsgPasswordSimilar  = "The password is too similar to the email."
	MsgPasswordTooLong  = "Ensure this field has no more than 128 characters." //nolint:gosec // G101: a message about passwords, not one
	MsgInvalidEmail     = "Enter a valid email address."
)

// Django's EmailValidator, split into its parts: a dot-atom local part and
// a domain of DNS labels whose last label (the TLD) has no digits-only
// form. Quoted local parts are not accepted: nobody registers with them and
// they complicate case-insensitive uniqueness.
var (
	emailLocalRe = regexp.MustCompile(`^[-!#$%&'*+/=?^_` + "`" + `{}|~0-9A-Za-z]+(\.[-!#$%&'*+/=?^_` + "`" + `{}|~0-9A-Za-z]+)*$`)
	emailLabelRe = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)
	emailTLDRe   = regexp.MustCompile(`^([A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59})$`)
	nonWordRe    = regexp.MustCompile(`\W+`)
)

// NormalizeEmail trims spaces and lowercases the domain part, as Django's
// normalize_email does; the local part keeps its case (uniqueness and
// lookups are case-insensitive anyway).
func NormalizeEmail(email string) string {
	email = strings.TrimSpace(email)
	at := strings.LastIndexByte(email, '@')
	if at < 0 {
		return email
	}
	return email[:at] + "@" + strings.ToLower(email[at+1:])
}

// ValidEmail reports whether email (normalized) is an address we accept.
func ValidEmail(email string) bool {
	if len(email) > MaxEmailLen || !utf8.ValidString(email) {
		return false
	}
	local, domain, ok := strings.Cut(email, "@")
	if !ok || local == "" || domain == "" || len(local) > 64 || !emailLocalRe.MatchString(local) {
		return false
	}
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if !emailLabelRe.MatchString(l) {
			return false
		}
	}
	return emailTLDRe.MatchString(labels[len(labels)-1])
}

// DefaultNickname is the part of email before "@", at most MaxNicknameLen
// characters.
func DefaultNickname(email string) string {
	local, _, _ := strings.Cut(email, "@")
	return truncateRunes(local, MaxNicknameLen)
}

func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

//go:embed common-passwords.txt
var commonPasswordsTxt []byte

// PasswordPolicy checks new passwords the way Django's default validators
// do: similarity to the email, minimum length, common passwords, all
// digits.
type PasswordPolicy struct {
	common map[string]struct{}
}

// NewPasswordPolicy returns the policy with the embedded list of common
// passwords.
func NewPasswordPolicy() *PasswordPolicy {
	common := make(map[string]struct{}, 4096)
	sc := bufio.NewScanner(bytes.NewReader(commonPasswordsTxt))
	for sc.Scan() {
		if w := strings.ToLower(strings.TrimSpace(sc.Text())); w != "" && !strings.HasPrefix(w, "#") {
			common[w] = struct{}{}
		}
	}
	return &PasswordPolicy{common: common}
}

// IsCommon reports whether password is on the common list (compared
// lowercased and trimmed, like Django).
func (p *PasswordPolicy) IsCommon(password string) bool {
	_, ok := p.common[strings.ToLower(strings.TrimSpace(password))]
	return ok
}

// Check returns every rule password breaks for a user with email, in
// Django's order; nil when it is acceptable.
func (p *PasswordPolicy) Check(password, email string) []string {
	var msgs []string
	if utf8.RuneCountInString(password) > MaxPasswordLen {
		// Longer passwords are refused before anything else: nobody needs
		// them and they only make hashing and comparing expensive.
		return []string{MsgPasswordTooLong}
	}
	if TooSimilar(password, email) {
		msgs = append(msgs, MsgPasswordSimilar)
	}
	if utf8.RuneCountInString(password) < MinPasswordLen {
		msgs = append(msgs, MsgPasswordTooShort)
	}
	if p.IsCommon(password) {
		msgs = append(msgs, MsgPasswordCommon)
	}
	if password != "" && isAllDigits(password) {
		msgs = append(msgs, MsgPasswordNumeric)
	}
	return msgs
}

func isAllDigits(s string) bool {
	for _, r := range s {
		if !unicode.IsDigit(r) {
			return false
		}
	}
	return true
}

// TooSimilar reports whether password is too similar to email: Django's
// UserAttributeSimilarityValidator (SequenceMatcher.quick_ratio >= 0.7
// against the whole email and each of its word parts), plus a plain
// containment check of the local part when it has at least 4 characters.
func TooSimilar(password, email string) bool {
	pw := strings.ToLower(password)
	value := strings.ToLower(email)
	if pw == "" || value == "" {
		return false
	}
	local, _, _ := strings.Cut(value, "@")
	if utf8.RuneCountInString(local) >= 4 && strings.Contains(pw, local) {
		return true
	}
	parts := append(nonWordRe.Split(value, -1), value)
	for _, part := range parts {
		if part == "" || exceedsMaximumLengthRatio(pw, part) {
			continue
		}
		if QuickRatio(pw, part) >= maxSimilarity {
			return true
		}
	}
	return false
}

// exceedsMaximumLengthRatio is Django's shortcut: a value much shorter
// than the password cannot make it similar, so it is skipped.
func exceedsMaximumLengthRatio(password, value string) bool {
	pwdLen := float64(utf8.RuneCountInString(password))
	valueLen := float64(utf8.RuneCountInString(value))
	lengthBoundSimilarity := maxSimilarity / 2 * pwdLen
	return pwdLen >= 10*valueLen && valueLen < lengthBoundSimilarity
}

// QuickRatio is Python's difflib.SequenceMatcher(a, b).quick_ratio(): twice
// the number of characters the two strings share (as multisets) over their
// total length.
func QuickRatio(a, b string) float64 {
	ra, rb := []rune(a), []rune(b)
	total := len(ra) + len(rb)
	if total == 0 {
		return 1
	}
	avail := make(map[rune]int, len(rb))
	for _, r := range rb {
		avail[r]++
	}
	matches := 0
	for _, r := range ra {
		if avail[r] > 0 {
			avail[r]--
			matches++
		}
	}
	return 2 * float64(matches) / float64(total)
}

// validateNickname returns the message for a bad nickname, or "".
func validateNickname(n string) string {
	switch {
	case n == "":
		return MsgBlank
	case utf8.RuneCountInString(n) > MaxNicknameLen:
		return maxLenMsg(MaxNicknameLen)
	}
	if err := safetext.Check(n); err != nil {
		return err.Error()
	}
	return ""
}

// checkText is the apperr.CodeInvalid error for a field whose text safetext
// refuses (NUL, control characters, invalid UTF-8), or nil. Text that
// only looks things up is checked too: PostgreSQL refuses a NUL in any
// query parameter.
func checkText(field, s string) error {
	if err := safetext.Check(s); err != nil {
		return apperr.FieldError(field, err.Error())
	}
	return nil
}

func maxLenMsg(n int) string {
	return "Ensure this field has no more than " + strconv.Itoa(n) + " characters."
}

// cleanList trims items, drops empty ones and case-insensitive duplicates,
// and returns the messages for the list's rule violations.
func cleanList(items []string) ([]string, []string) {
	out := make([]string, 0, len(items))
	seen := make(map[string]bool, len(items))
	var msgs []string
	for _, it := range items {
		it = strings.TrimSpace(it)
		if it == "" || seen[strings.ToLower(it)] {
			continue
		}
		seen[strings.ToLower(it)] = true
		if utf8.RuneCountInString(it) > MaxListItemLen || strings.IndexFunc(it, unicode.IsControl) >= 0 {
			msgs = append(msgs, "Each item must be a single line of at most "+strconv.Itoa(MaxListItemLen)+" characters.")
			return nil, msgs
		}
		out = append(out, it)
	}
	if len(out) > MaxListItems {
		msgs = append(msgs, "Ensure this field has no more than "+strconv.Itoa(MaxListItems)+" elements.")
	}
	return out, msgs
}

// validContactNumber accepts what people type for a phone number: digits,
// spaces, "+", "-", "(", ")" and ".", with at least one digit.
func validContactNumber(s string) bool {
	digits := 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case strings.ContainsRune(" +-().", r):
		default:
			return false
		}
	}
	return digits > 0
}

// ValidateUpdate cleans u in place (trimming, de-duplicating) and returns a
// apperr.CodeInvalid *apperr.Error naming every bad field, or nil.
func ValidateUpdate(u *ProfileUpdate) error {
	f := fielderr.Fields{}
	if u.Nickname != nil {
		n := strings.TrimSpace(*u.Nickname)
		u.Nickname = &n
		if msg := validateNickname(n); msg != "" {
			f.Add("nickname", msg)
		}
	}
	if u.Bio != nil {
		b := strings.TrimSpace(*u.Bio)
		u.Bio = &b
		if utf8.RuneCountInString(b) > MaxBioLen {
			f.Add("bio", maxLenMsg(MaxBioLen))
		} else if err := safetext.Check(b); err != nil {
			f.Add("bio", err.Error())
		}
	}
	if u.Skills != nil {
		items, msgs := cleanList(*u.Skills)
		u.Skills = &items
		for _, m := range msgs {
			f.Add("skills", m)
		}
	}
	if u.Interests != nil {
		items, msgs := cleanList(*u.Interests)
		u.Interests = &items
		for _, m := range msgs {
			f.Add("interests", m)
		}
	}
	if u.Status != nil && !u.Status.Valid() {
		f.Add("status", `"`+string(*u.Status)+`" is not a valid choice.`)
	}
	if u.ContactNumber != nil {
		c := strings.TrimSpace(*u.ContactNumber)
		u.ContactNumber = &c
		switch {
		case utf8.RuneCountInString(c) > MaxContactNumberLen:
			f.Add("contact_number", maxLenMsg(MaxContactNumberLen))
		case c != "" && !validContactNumber(c):
			f.Add("contact_number", "Enter a valid phone number.")
		}
	}
	return apperr.Invalid(f)
}
