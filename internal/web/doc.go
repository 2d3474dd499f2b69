// Package web is the pages people see, served by `vakt serve` under /ui/:
// the security info page where a user adds, removes and orders their
// methods; the sign-in step a relying party redirects to; the self-service
// reset after an identity proof; the helpdesk console and the tenant
// dashboard.
//
// The pages are Go html/template with embedded CSS and a little vanilla
// JavaScript (static/), all in the binary: no build step, nothing loaded from
// the internet. They call the engine in-process (engine.Service and the read
// models of the stack), never the HTTP API, so every change is an event with
// the page's form as its command id (a double submit is answered, not
// applied twice).
//
// Every string is in the message catalogue (i18n.go) in Norwegian bokmål
// and English; every page carries its lang. Every form carries a token
// signed with the server's key and bound to the browser (csrf.go), which
// doubles as the idempotency key of the command the form runs.
//
// A user reaches the pages in one of two ways (docs/PAGES.md):
//
//   - production: the relying party sends the browser to /ui/enter with a
//     short-lived EdDSA JWT it signed (assertion.go), naming the tenant, the
//     user and what to open;
//   - development (`vakt serve --dev`): a clearly labelled form that signs
//     anyone in as anyone (dev.go).
//
// The helpdesk console and the dashboard take a helpdesk or tenant admin API
// key once and keep a signed session cookie instead.
package web
