package ui

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/collate"
	"golang.org/x/text/language"

	"github.com/hubkit/hubkit/internal/directory"
	"github.com/hubkit/hubkit/internal/kommune"
	"github.com/hubkit/hubkit/internal/region"
	"github.com/hubkit/hubkit/internal/site"
)

// The Content of each page. A page's template reads exactly these fields.

// HomeContent is the Content of "home", the page after login. The user's
// name, roles and NSIS level come from PageData.Session, which it requires.
type HomeContent struct {
	Kommune string // name of the user's kommune
}

// DirectoryContent is the Content of "directory" and "directory_print".
type DirectoryContent struct {
	Query      directory.Query
	Groups     []directory.Group // the results, by kind
	Total      int               // number of results
	Exportable int               // results that have contact details, so go into the vCard export
	Facets     directory.Facets  // choices of the tag and kommune filters
	ExportURL  string            // vCard download of the results
	PrintURL   string            // print view of the results
	BackURL    string            // print view: the search it prints
	Error      string            // catalogue key or text of a problem with the query; "" for none
	ErrorArg   string            // argument of Error's text
	Generated  time.Time         // print view: when it was made
}

// ErrorContent is the Content of "error".
type ErrorContent struct {
	Status int    // HTTP status; its friendly text is shown, never an internal message
	ID     string // reference of the error in the logs ({http.error.id}); "" for none
}

// ChooserContent is the Content of "chooser", the login handler's kommune
// chooser at GET /login. Make it with NewChooser.
type ChooserContent struct {
	Query    string           // the ?q= search text, shown back in the search box
	Return   string           // the checked return URL; carried by the search form and the start links
	Last     *ChooserKommune  // the kommune chosen last time (if it has a login), offered first; nil if none
	Kommuner []ChooserKommune // the member kommuner matching Query, in Danish alphabetical order
	Total    int              // number of member kommuner before filtering
	Error    string           // catalogue key (LoginMessages) or text of an error; "" for none
}

// ChooserKommune is one kommune of the chooser.
type ChooserKommune struct {
	Code     int
	Name     string
	Provider string // the identity provider's display name; "" when the kommune has no login
	StartURL string // /auth/start?kommune=CODE[&return=...]; "" when it has no login
	Last     bool   // it is the kommune chosen last time
	Key      string // folded name and code, which hub.js filters on
}

// NoAccessContent is the Content of "noaccess" (render it with status 403):
// the login worked but gave the user no role in this hub.
type NoAccessContent struct {
	Kommune string // the name of the kommune the user logged in through; "" if unknown
}

// LoginErrorContent is the Content of "loginerror".
type LoginErrorContent struct {
	Message string // catalogue key (LoginMessages) or text; "" shows login.error.generic
	Retry   string // where "try again" leads: a relative URL; anything else becomes /login
}

// SignedOutContent is the Content of "signedout".
type SignedOutContent struct {
	ProviderName      string // the identity provider's display name; may be ""
	ProviderLogoutURL string // the provider's end-session URL (absolute https); "" hides the link
}

// MaxChooserQuery bounds the chooser's search text.
const MaxChooserQuery = 100

// NewChooser builds the chooser of st's member kommuner: those whose
// names or codes match query (folded like kommune.Key), with the kommune of
// code last offered first when it has a login. ret is passed through
// SafeReturn before it is put into links.
func NewChooser(st *site.Site, query string, last int, ret string) ChooserContent {
	query = strings.TrimSpace(query)
	if r := []rune(query); len(r) > MaxChooserQuery {
		query = string(r[:MaxChooserQuery])
	}
	c := ChooserContent{Query: query, Return: SafeReturn(ret), Total: len(st.Region.Kommuner)}
	want := kommune.Key(query)
	ks := slices.Clone(st.Region.Kommuner)
	col := collate.New(language.Danish, collate.IgnoreCase)
	slices.SortFunc(ks, func(a, b region.Kommune) int { return col.CompareString(a.Name, b.Name) })
	for _, k := range ks {
		code := strconv.Itoa(k.Code)
		ck := ChooserKommune{Code: k.Code, Name: k.Name, Key: kommune.Key(k.Name) + " " + code, Last: k.Code == last}
		if p := st.Provider(k.Code); p != nil {
			ck.Provider = p.Name
			v := url.Values{"kommune": {code}}
			if c.Return != "" {
				v.Set("return", c.Return)
			}
			ck.StartURL = "/auth/start?" + v.Encode()
		}
		if ck.Last && ck.StartURL != "" {
			l := ck
			c.Last = &l
		}
		if want == "" || strings.Contains(ck.Key, want) {
			c.Kommuner = append(c.Kommuner, ck)
		}
	}
	return c
}

// prepare normalises Content before a template sees it.
func prepare(c any) any {
	switch v := c.(type) {
	case LoginErrorContent:
		if v.Message == "" {
			v.Message = "login.error.generic"
		}
		if v.Retry = SafeReturn(v.Retry); v.Retry == "" {
			v.Retry = "/login"
		}
		return v
	case SignedOutContent:
		if u, err := url.Parse(v.ProviderLogoutURL); err != nil || u.Scheme != "https" && u.Scheme != "http" || u.Host == "" {
			v.ProviderLogoutURL = ""
		}
		return v
	}
	return c
}
