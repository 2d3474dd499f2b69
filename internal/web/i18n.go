package web

import (
	"fmt"
	"html/template"
	"strings"
	"time"
)

// The languages of the pages.
const (
	LangNB = "nb" // Norwegian bokmål, the default
	LangEN = "en"
)

// catalogue holds every string of the pages: key -> {bokmål, English}.
// Arguments are fmt verbs. A key that is missing renders as ⟦key⟧, which
// the browser tests look for.
var catalogue = map[string][2]string{
	"lang.switch": {"English", "Norsk (bokmål)"},
	"nav.skip":    {"Hopp til innholdet", "Skip to content"},
	"nav.label":   {"Hovedmeny", "Main menu"},
	"nav.account": {"Sikkerhetsinformasjon", "Security info"}, "nav.helpdesk": {"Brukerstøtte", "Helpdesk"},
	"nav.dashboard": {"Oversikt", "Dashboard"}, "nav.logout": {"Logg ut", "Sign out"}, "nav.home": {"Til forsiden", "To the front page"},
	"foot.text": {"Vakt – tofaktorautentisering", "Vakt – multi-factor authentication"},

	"title.home": {"Vakt", "Vakt"}, "title.problem": {"Det gikk ikke", "That did not work"},
	"title.signed_out": {"Logget ut", "Signed out"}, "title.account": {"Sikkerhetsinformasjon", "Security info"},
	"title.confirm": {"Bekreft metoden", "Confirm the method"}, "title.recovery": {"Gjenopprettingskoder", "Recovery codes"},
	"title.enrol_totp": {"Legg til autentiseringsapp", "Add an authenticator app"}, "title.enrol_push": {"Legg til push-app", "Add a push app"},
	"title.enrol_sms": {"Legg til SMS", "Add SMS"}, "title.enrol_email": {"Legg til e-post", "Add e-mail"},
	"title.enrol_key": {"Legg til sikkerhetsnøkkel", "Add a security key"},
	"title.signin":    {"Bekreft at det er deg", "Confirm it is you"}, "title.signin_help": {"Får du ikke brukt autentiseringsappen?", "Can't use your authenticator?"},
	"title.signin_done": {"Du er bekreftet", "You are confirmed"}, "title.reset": {"Ny telefon eller mistet telefonen", "New phone or lost phone"},
	"title.dev": {"Utviklingsinnlogging", "Development login"}, "title.dev_done": {"Svar til tjenesten (utvikling)", "Answer to the service (development)"},
	"title.staff_login": {"Logg inn for brukerstøtte", "Helpdesk sign-in"}, "title.helpdesk": {"Brukerstøtte", "Helpdesk"},
	"title.helpdesk_user": {"Bruker", "User"}, "title.dashboard": {"Oversikt", "Dashboard"},

	"home.intro": {"Her administrerer du tofaktorautentiseringen din. Tjenesten du logger inn på sender deg hit.", "This is where you manage your multi-factor authentication. The service you sign in to sends you here."},
	"home.dev":   {"Utviklingsinnlogging", "Development login"}, "home.staff": {"Logg inn for brukerstøtte eller oversikt", "Sign in to the helpdesk or the dashboard"},
	"home.rp": {"Kommer du fra en tjeneste? Gå tilbake dit og velg sikkerhetsinformasjon.", "Coming from a service? Go back there and choose security info."},

	"dev.banner_title": {"Utviklingsmodus.", "Development mode."},
	"dev.banner":       {"Denne serveren kjører med --dev: hvem som helst kan logge inn som hvem som helst. Aldri i produksjon.", "This server runs with --dev: anyone can sign in as anyone. Never in production."},
	"dev.explain":      {"Utviklingsinnlogging: velg virksomhet og bruker. Ingen sjekk av hvem du er – i produksjon sender tjenesten en signert påstand i stedet (se docs/PAGES.md).", "Development login: choose an organisation and a user. Nobody checks who you are – in production the service sends a signed assertion instead (see docs/PAGES.md)."},
	"dev.open":         {"Åpne", "Open"}, "dev.open_account": {"Sikkerhetsinformasjon", "Security info"},
	"dev.open_signin": {"Innloggingssteget (som om en tjeneste sendte deg)", "The sign-in step (as if a service sent you)"},
	"dev.open_reset":  {"Ny telefon / mistet telefonen", "New phone / lost phone"}, "dev.submit": {"Logg inn (utvikling)", "Sign in (development)"},
	"devdone.intro":  {"Tjenesten ville fått dette tokenet. Her vises bare innholdet.", "The service would have received this token. Only its contents are shown."},
	"devdone.claims": {"Innhold i tokenet", "Token claims"}, "devdone.state": {"Tilstand", "State"},
	"devdone.remembered": {"Nettleseren ble husket.", "The browser was remembered."}, "devdone.not_remembered": {"Nettleseren ble ikke husket.", "The browser was not remembered."},
	"devdone.again": {"Logg inn på nytt", "Sign in again"},

	"field.tenant": {"Virksomhet (tenant)", "Organisation (tenant)"}, "field.user": {"Brukernavn", "User name"},
	"field.app": {"Tjeneste", "Application"}, "field.label": {"Navn", "Name"},
	"field.address_sms": {"Mobilnummer", "Mobile number"}, "field.address_email": {"E-postadresse", "E-mail address"},
	"field.secret": {"Hemmelig nøkkel", "Secret key"}, "field.code": {"Kode", "Code"},
	"field.code_first": {"Første kode fra appen", "First code from the app"}, "field.code_sent": {"Koden vi sendte deg", "The code we sent you"}, "field.code_hotp": {"Koden nøkkelen viser nå", "The code the key shows now"},
	"field.code_hint": {"Mellomrom spiller ingen rolle.", "Spaces do not matter."}, "field.recovery_code": {"Gjenopprettingskode", "Recovery code"},
	"field.api_key": {"API-nøkkel", "API key"}, "field.operator": {"Saksbehandler", "Operator"}, "field.ticket": {"Saksnummer", "Ticket"},

	"col.method": {"Metode", "Method"}, "col.name": {"Navn", "Name"}, "col.status": {"Status", "Status"},
	"col.last_used": {"Sist brukt", "Last used"}, "col.actions": {"Handlinger", "Actions"}, "col.app": {"Tjeneste", "Application"},
	"col.remembered": {"Husket", "Remembered"}, "col.until": {"Til", "Until"}, "col.created": {"Lagt til", "Added"},
	"col.time": {"Tid", "Time"}, "col.event": {"Hendelse", "Event"}, "col.actor": {"Utført av", "Actor"}, "col.ticket": {"Sak", "Ticket"},
	"col.day": {"Dag", "Day"},

	"method.totp": {"Autentiseringsapp", "Authenticator app"}, "method.hotp": {"Sikkerhetsnøkkel (HOTP)", "Security key (HOTP)"},
	"method.push": {"Push-app", "Push app"}, "method.sms": {"SMS", "SMS"}, "method.email": {"E-post", "E-mail"},
	"method.recovery_code": {"Gjenopprettingskode", "Recovery code"}, "method.temporary_pass": {"Midlertidig passord", "Temporary pass"},
	"status.active": {"Aktiv", "Active"}, "status.pending": {"Venter på bekreftelse", "Waiting for confirmation"},

	"account.intro":       {"Logget inn som %s. Dette er måtene du bekrefter at det er deg.", "Signed in as %s. These are the ways you confirm it is you."},
	"account.after_reset": {"Metodene dine er fjernet. Legg til en ny metode nå.", "Your methods were removed. Add a new method now."},
	"account.locked":      {"Kontoen er midlertidig låst etter for mange feil. Vent litt eller kontakt brukerstøtte.", "The account is locked for now after too many failures. Wait a little or contact the helpdesk."},
	"account.methods":     {"Metodene dine", "Your methods"}, "account.default": {"standard", "default"},
	"account.never": {"aldri", "never"}, "account.make_default": {"Gjør til standard", "Make default"}, "account.remove": {"Fjern", "Remove"},
	"account.no_methods": {"Du har ingen metoder ennå.", "You have no methods yet."},
	"account.add":        {"Legg til en metode", "Add a method"}, "account.add_button": {"Legg til", "Add"},
	"account.recovery":      {"Gjenopprettingskoder", "Recovery codes"},
	"account.recovery_left": {"Ubrukte gjenopprettingskoder: %d.", "Unused recovery codes: %d."},
	"account.recovery_make": {"Lag gjenopprettingskoder", "Make recovery codes"}, "account.recovery_new": {"Lag nye koder (de gamle slutter å virke)", "Make new codes (the old ones stop working)"},
	"account.devices": {"Huskede nettlesere", "Remembered browsers"}, "account.forget": {"Glem", "Forget"},
	"account.forget_all": {"Glem alle nettlesere", "Forget all browsers"}, "account.no_devices": {"Ingen nettlesere er husket.", "No browsers are remembered."},

	"add.totp.title": {"Autentiseringsapp", "Authenticator app"}, "add.totp.hint": {"Microsoft Authenticator, Google Authenticator, Okta Verify og lignende.", "Microsoft Authenticator, Google Authenticator, Okta Verify and the like."},
	"add.totp.default_label": {"Telefon", "Phone"},
	"add.push.title":         {"Push-app", "Push app"}, "add.push.hint": {"Godkjenn innlogging på telefonen ved å velge riktig tall.", "Approve sign-ins on your phone by choosing the right number."},
	"add.push.default_label": {"Push på telefon", "Push on phone"},
	"add.sms.title":          {"SMS", "SMS"}, "add.sms.hint": {"En kode på SMS. Svakere enn en app.", "A code by SMS. Weaker than an app."}, "add.sms.default_label": {"Mobil", "Mobile"},
	"add.email.title": {"E-post", "E-mail"}, "add.email.hint": {"En kode på e-post. Svakere enn en app.", "A code by e-mail. Weaker than an app."}, "add.email.default_label": {"E-post", "E-mail"},
	"add.key.title": {"Sikkerhetsnøkkel", "Security key"}, "add.key.hint": {"En YubiKey eller kodebrikke med engangskoder (OATH).", "A YubiKey or token with one-time codes (OATH)."},
	"add.key.default_label": {"Sikkerhetsnøkkel", "Security key"}, "add.key.kind": {"Slags koder", "Kind of codes"},
	"add.key.totp": {"Tidsbasert (TOTP)", "Time-based (TOTP)"}, "add.key.hotp": {"Tellerbasert (HOTP)", "Counter-based (HOTP)"},
	"add.key.secret_hint": {"Base32, slik den står på arket fra leverandøren.", "Base32, as printed on the vendor's sheet."},

	"enrol.qr_alt":             {"QR-kode for autentiseringsappen. Nøkkelen står skrevet ut nedenfor.", "QR code for the authenticator app. The key is written out below."},
	"enrol.qr_alt_push":        {"QR-kode for push-appen. Lenken står skrevet ut ved siden av.", "QR code for the push app. The link is written out beside it."},
	"enrol.step_open":          {"Åpne autentiseringsappen og velg å legge til en konto.", "Open the authenticator app and choose to add an account."},
	"enrol.step_scan":          {"Skann QR-koden, eller skriv inn nøkkelen nedenfor.", "Scan the QR code, or type in the key below."},
	"enrol.step_code":          {"Skriv inn den første koden appen viser.", "Type the first code the app shows."},
	"enrol.manual":             {"Nøkkel for manuell registrering", "Key for manual entry"},
	"enrol.manual_hint":        {"Skriv inn nøkkelen i appen om du ikke kan skanne. Gruppene er bare for lesbarhet.", "Type the key into the app if you cannot scan. The groups are only for reading."},
	"enrol.push_steps":         {"Skann QR-koden med push-appen (for eksempel vakt device).", "Scan the QR code with the push app (for example vakt device)."},
	"enrol.push_link":          {"Eller åpne denne aktiveringslenken på telefonen:", "Or open this activation link on the phone:"},
	"enrol.push_after":         {"Når appen har bekreftet, vises metoden som aktiv.", "When the app has confirmed, the method shows as active."},
	"enrol.push_waiting":       {"Venter på at appen bekrefter …", "Waiting for the app to confirm …"},
	"enrol.push_active":        {"Push-appen er aktivert og klar til bruk.", "The push app is activated and ready to use."},
	"enrol.push_check":         {"Sjekk igjen", "Check again"},
	"enrol.push_check_hint":    {"Skann QR-koden eller åpne aktiveringslenken i appen, og trykk «Sjekk igjen».", "Scan the QR code or open the activation link in the app, then press “Check again”."},
	"enrol.push_still_waiting": {"Appen har ikke bekreftet ennå.", "The app has not confirmed yet."},
	"enrol.sent_sms":           {"Vi har sendt en kode på SMS.", "We have sent a code by SMS."}, "enrol.sent_email": {"Vi har sendt en kode på e-post.", "We have sent a code by e-mail."},
	"enrol.confirm": {"Bekreft", "Confirm"}, "enrol.expires": {"Dette må fullføres innen %s.", "This must be completed by %s."},
	"enrol.back": {"Tilbake til sikkerhetsinformasjon", "Back to security info"},

	"recovery.once":     {"Kodene vises bare denne ene gangen. Last dem ned eller skriv dem ut, og oppbevar dem trygt. Hver kode kan brukes én gang.", "The codes are shown this once only. Download or print them and keep them safe. Each code works once."},
	"recovery.download": {"Last ned kodene", "Download the codes"}, "recovery.done": {"Jeg har tatt vare på kodene", "I have kept the codes"},
	"recovery.file_header": {"Gjenopprettingskoder for %s (%s) – hver kan brukes én gang", "Recovery codes for %s (%s) – each works once"},

	"signin.intro":          {"Tjenesten «%s» ber deg bekrefte at det er deg.", "The application “%s” asks you to confirm it is you."},
	"signin.time_left":      {"Tid igjen:", "Time left:"},
	"signin.live_minutes":   {"Omtrent %d minutter igjen.", "About %d minutes left."},
	"signin.live_seconds":   {"%d sekunder igjen.", "%d seconds left."},
	"signin.live_expired":   {"Tiden er ute. Gå tilbake til tjenesten og prøv igjen.", "Time is up. Go back to the service and try again."},
	"signin.push_title":     {"Godkjenn på telefonen", "Approve on your phone"},
	"signin.push_pick":      {"Vi har sendt en forespørsel til %s. Velg dette tallet i appen:", "We sent a request to %s. Choose this number in the app:"},
	"signin.number_label":   {"Tallet er %d", "The number is %d"},
	"signin.push_waiting":   {"Venter på svar fra telefonen …", "Waiting for the phone to answer …"},
	"signin.push_check":     {"Jeg har svart – fortsett", "I have answered – continue"},
	"signin.code_title":     {"Skriv inn koden fra appen eller nøkkelen", "Enter the code from your app or key"},
	"signin.sent_sms":       {"Skriv inn koden vi sendte på SMS", "Enter the code we sent by SMS"},
	"signin.sent_email":     {"Skriv inn koden vi sendte på e-post", "Enter the code we sent by e-mail"},
	"signin.remember":       {"Husk denne nettleseren i %d dager", "Remember this browser for %d days"},
	"signin.verify":         {"Bekreft", "Confirm"},
	"signin.other":          {"Andre måter", "Other ways"},
	"signin.send_push":      {"Send push til %s", "Send a push to %s"},
	"signin.send_sms":       {"Send kode på SMS til %s", "Send a code by SMS to %s"},
	"signin.send_email":     {"Send kode på e-post til %s", "Send a code by e-mail to %s"},
	"signin.cant_use":       {"Jeg får ikke brukt autentiseringsappen", "I can't use my authenticator"},
	"signin.recovery_title": {"Bruk en gjenopprettingskode eller et midlertidig passord", "Use a recovery code or a temporary pass"},
	"signin.reset_title":    {"Ny telefon eller mistet telefonen?", "New phone or lost phone?"},
	"signin.reset_text":     {"Bekreft hvem du er med ID-porten, så kan du legge til metodene dine på nytt.", "Prove who you are with ID-porten, then add your methods again."},
	"signin.reset_link":     {"Tilbakestill med ID-porten", "Reset with ID-porten"},
	"signin.back":           {"Tilbake", "Back"},
	"done.text":             {"Du sendes tilbake til tjenesten. Skjer det ikke, trykk Fortsett.", "You are being sent back to the service. If nothing happens, press Continue."},
	"done.continue":         {"Fortsett", "Continue"},

	"reset.intro":       {"Har du fått ny telefon eller mistet den gamle? Bekreft hvem du er, så fjernes alle metodene dine og du kan legge til nye.", "Got a new phone or lost the old one? Prove who you are; all your methods are then removed and you can add new ones."},
	"reset.what":        {"Alle metoder og huskede nettlesere fjernes. Det står i loggen hvem som bekreftet deg og på hvilket nivå.", "Every method and remembered browser is removed. The log records who proved you and at what level."},
	"reset.choose":      {"Bekreft identiteten med", "Prove your identity with"},
	"reset.start":       {"Fortsett", "Continue"},
	"reset.no_provider": {"Ingen identitetsbekreftelse er satt opp. Kontakt brukerstøtte.", "No identity proofing is set up. Contact the helpdesk."},
	"proof.dev":         {"ID-porten (utviklingsutgave)", "ID-porten (development stand-in)"},
	"proof.dev_explain": {"Dette står i stedet for ID-porten i utvikling. Velg nivået ID-porten ville bekreftet.", "This stands in for ID-porten in development. Choose the level ID-porten would assert."},
	"proof.dev_user":    {"Bekreftelsen gjelder %s.", "The proof is for %s."},
	"proof.level":       {"Sikkerhetsnivå", "Assurance level"},
	"proof.high":        {"Høyt (BankID) – idporten-loa-high", "High (BankID) – idporten-loa-high"},
	"proof.substantial": {"Betydelig (MinID) – idporten-loa-substantial", "Substantial (MinID) – idporten-loa-substantial"},
	"proof.submit":      {"Bekreft identiteten", "Prove identity"},

	"staff.intro":       {"Logg inn med en API-nøkkel for brukerstøtte eller virksomhetsadministrator. Nøkkelen lagres ikke i nettleseren.", "Sign in with a helpdesk or tenant admin API key. The key is not stored in the browser."},
	"staff.tenant_hint": {"Tom: virksomheten nøkkelen hører til.", "Empty: the tenant the key belongs to."},
	"staff.submit":      {"Logg inn", "Sign in"},
	"helpdesk.intro":    {"Finn en bruker i %s.", "Find a user in %s."}, "helpdesk.find": {"Finn", "Find"},
	"helpdesk.user": {"%s i %s", "%s in %s"}, "helpdesk.state": {"Tilstand", "State"},
	"helpdesk.not_locked": {"Ikke låst.", "Not locked."}, "helpdesk.locked_until": {"Låst til %s.", "Locked until %s."},
	"helpdesk.locked_permanent": {"Låst til brukerstøtte låser opp.", "Locked until the helpdesk unlocks."},
	"helpdesk.failures":         {"Feil på rad: %d.", "Failures in a row: %d."},
	"helpdesk.actions":          {"Handlinger", "Actions"},
	"helpdesk.unlock":           {"Lås opp", "Unlock"}, "helpdesk.unlock_hint": {"Fjerner låsen etter for mange feil.", "Clears a lockout after too many failures."},
	"helpdesk.temporary-pass":      {"Gi midlertidig passord", "Issue a temporary pass"},
	"helpdesk.temporary-pass_hint": {"Et engangspassord brukeren logger inn med for å legge til en ny metode.", "A one-time pass the user signs in with to add a new method."},
	"helpdesk.reset":               {"Tilbakestill", "Reset"}, "helpdesk.reset_hint": {"Fjerner alle metoder og huskede nettlesere. Sjekk identiteten først.", "Removes every method and remembered browser. Check the identity first."},
	"helpdesk.reset_with_pass": {"Gi også et midlertidig passord", "Also issue a temporary pass"},
	"helpdesk.pass_once":       {"Midlertidig passord (vises én gang, gyldig til %s):", "Temporary pass (shown once, valid until %s):"},
	"helpdesk.timeline":        {"Hendelser", "Timeline"}, "helpdesk.no_events": {"Ingen hendelser.", "No events."},
	"helpdesk.remove":        {"Fjern én metode", "Remove one method"},
	"helpdesk.remove_hint":   {"For en mistet nøkkel eller et gammelt nummer. De andre metodene beholdes.", "For a lost key or an old number. The other methods stay."},
	"helpdesk.remove_which":  {"Metode", "Method"},
	"helpdesk.switch_tenant": {"Bytt virksomhet", "Switch organisation"},
	"title.pick_tenant":      {"Velg virksomhet", "Choose an organisation"},
	"pick.intro":             {"Nøkkelen gjelder alle virksomheter. Velg hvilken du vil arbeide med.", "The key covers every organisation. Choose the one to work with."},
	"pick.none":              {"Ingen virksomheter har hendelser ennå.", "No organisation has any events yet."},
	"pick.submit":            {"Velg", "Choose"},
	"title.stepup":           {"Bekreft på nytt", "Confirm again"},
	"stepup.intro":           {"Tjenesten %s ber %s bekrefte at det er deg før du går videre.", "The service %s asks %s to confirm it is you before you go on."},
	"stepup.level":           {"Nivå som kreves: %s.", "Level required: %s."},
	"stepup.age":             {"Bekreftelsen må være nyere enn %d minutter.", "The confirmation must be newer than %d minutes."},
	"stepup.return":          {"Etterpå kommer du tilbake til:", "Afterwards you return to:"},
	"stepup.continue":        {"Fortsett", "Continue"},
	"acr.low":                {"lavt", "low"},
	"acr.substantial":        {"betydelig", "substantial"},
	"acr.high":               {"høyt", "high"},
	"helpdesk.find_another":  {"Finn en annen bruker", "Find another user"},

	"dash.intro": {"Tall for %s.", "Figures for %s."}, "dash.totals": {"Totalt", "Totals"},
	"dash.users": {"Brukere", "Users"}, "dash.enrolled": {"Med aktiv metode", "With an active method"},
	"dash.succeeded": {"Vellykkede innlogginger", "Successful sign-ins"}, "dash.failed": {"Feil koder", "Wrong codes"},
	"dash.lockouts": {"Låsinger", "Lockouts"}, "dash.fraud": {"Meldt svindel", "Fraud reports"},
	"dash.charts": {"De siste %d dagene", "The last %d days"}, "dash.table": {"Tallene som tabell", "The figures as a table"},
	"chart.enrolments": {"Nye metoder per dag, etter metode", "New methods per day, by method"},
	"chart.outcomes":   {"Innlogginger per dag etter utfall", "Sign-ins per day by outcome"},
	"chart.succeeded":  {"Vellykket", "Succeeded"}, "chart.denied": {"Avvist på telefonen", "Denied on the phone"},
	"chart.fraud_ended": {"Meldt som svindel", "Reported as fraud"}, "chart.expired": {"Utløpt", "Expired"},
	"chart.lockouts": {"Låsinger per dag", "Lockouts per day"}, "chart.lockouts_series": {"Låsinger", "Lockouts"},
	"chart.fraud": {"Meldt svindel per dag", "Fraud reports per day"}, "chart.fraud_series": {"Svindel", "Fraud"},

	"msg.signed_out":      {"Du er logget ut.", "You are signed out."},
	"msg.added":           {"Metoden er lagt til og klar til bruk.", "The method is added and ready to use."},
	"msg.activated":       {"Push-appen er aktivert og klar til bruk.", "The push app is activated and ready to use."},
	"msg.removed":         {"Metoden er fjernet.", "The method is removed."},
	"msg.default_changed": {"Standardmetoden er endret.", "The default method is changed."},
	"msg.forgotten":       {"Nettleseren er glemt.", "The browser is forgotten."},
	"msg.duplicate":       {"Dette var allerede gjort (skjemaet ble sendt to ganger). Engangsverdier vises ikke igjen.", "This was already done (the form was sent twice). One-time values are not shown again."},
	"msg.reset_done":      {"Identiteten er bekreftet og metodene fjernet. Legg til en ny metode nå.", "Your identity is proven and your methods removed. Add a new method now."},
	"msg.hd_reset":        {"Brukeren er tilbakestilt.", "The user is reset."}, "msg.hd_unlocked": {"Brukeren er låst opp.", "The user is unlocked."},
	"msg.hd_pass":      {"Midlertidig passord er laget.", "A temporary pass is made."},
	"msg.no_such_user": {"Ingen hendelser for denne brukeren ennå.", "No events for this user yet."},

	"err.no_page":               {"Siden finnes ikke.", "There is no such page."},
	"err.form_too_large":        {"Skjemaet er for stort.", "The form is too large."},
	"err.form_invalid":          {"Skjemaet kunne ikke godtas. Last inn siden på nytt og prøv igjen.", "The form could not be accepted. Reload the page and try again."},
	"err.form_expired":          {"Siden er utløpt. Last den inn på nytt og prøv igjen; ingenting ble endret.", "This page has expired. Reload it and try again; nothing was changed."},
	"err.session_expired":       {"Økten din er utløpt. Gå tilbake til tjenesten og åpne sikkerhetsinformasjon på nytt; ingenting ble endret.", "Your session has expired. Go back to the service and open security info again; nothing was changed."},
	"err.session_expired_staff": {"Økten din er utløpt. Logg inn på nytt; ingenting ble endret.", "Your session has expired. Sign in again; nothing was changed."},
	"err.signin_needed":         {"Du er ikke logget inn. Åpne sikkerhetsinformasjon fra tjenesten du bruker.", "You are not signed in. Open security info from the service you use."},
	"err.staff_login_needed":    {"Logg inn for brukerstøtte først.", "Sign in to the helpdesk first."},
	"err.other_account":         {"Skjemaet gjaldt en annen konto enn den du er logget inn med nå. Ingenting ble endret.", "The form was for another account than the one you are signed in with now. Nothing was changed."},
	"err.other_tenant":          {"Brukeren hører til en annen virksomhet. Du kan bare arbeide med brukere i %s. Ingenting ble endret.", "This user belongs to another organisation. You can only work with users of %s. Nothing was changed."},
	"err.method":                {"Velg en metode.", "Choose a method."},
	"err.label":                 {"Gi metoden et navn (høyst 64 tegn).", "Give the method a name (at most 64 characters)."},
	"err.address_sms":           {"Skriv inn et mobilnummer med landkode, for eksempel +4791234567.", "Enter a mobile number with country code, for example +4791234567."},
	"err.address_email":         {"Skriv inn en e-postadresse.", "Enter an e-mail address."},
	"err.key_kind":              {"Velg TOTP eller HOTP.", "Choose TOTP or HOTP."},
	"err.key_secret":            {"Skriv inn nøkkelens hemmelighet (Base32).", "Enter the key's secret (Base32)."},
	"err.code_missing":          {"Skriv inn koden.", "Enter the code."},
	"err.enrolment_expired":     {"Tiden for å bekrefte gikk ut. Legg til metoden på nytt.", "The time to confirm ran out. Add the method again."},
	"err.stepup_params":         {"Lenken fra tjenesten er ikke gyldig (nivå, tid eller virksomhet). Gå tilbake til tjenesten og prøv igjen; ingenting ble endret.", "The link from the service is not valid (level, age or organisation). Go back to the service and try again; nothing was changed."},
	"err.stepup_who":            {"Vi vet ikke hvem du er. Logg inn på tjenesten først, og prøv igjen.", "We do not know who you are. Sign in to the service first, then try again."},
	"err.stepup_acr":            {"Metoden du brukte gir ikke høyt nok nivå for dette. Velg en sterkere metode.", "The method you used does not give a high enough level for this. Choose a stronger method."},
	"err.not_found":             {"Fant ikke det du ba om. Det kan være fjernet allerede.", "What you asked for was not found. It may have been removed already."},
	"err.tenant_unknown":        {"Ingen virksomhet med navnet «%s» har hendelser her. Velg en fra listen; ingenting ble endret.", "No organisation called “%s” has any events here. Pick one from the list; nothing was changed."},
	"err.one_tenant":            {"Denne nøkkelen hører til %s og kan ikke bytte virksomhet.", "This key belongs to %s and cannot switch organisation."},
	"err.pick_method":           {"Velg metoden som skal fjernes.", "Choose the method to remove."},
	"err.ticket_operator_long":  {"Saksbehandler og saksnummer er for lange til sammen (høyst 90 tegn). Ingenting ble endret.", "The operator and ticket are too long together (at most 90 characters). Nothing was changed."},
	"err.tenant":                {"Skriv inn en gyldig virksomhet.", "Enter a valid organisation."},
	"err.user":                  {"Skriv inn et gyldig brukernavn.", "Enter a valid user name."},
	"err.app":                   {"Velg en tjeneste.", "Choose an application."},
	"err.open":                  {"Velg hva som skal åpnes.", "Choose what to open."},
	"err.no_dev":                {"Utviklingsinnlogging er slått av på denne serveren.", "The development login is off on this server."},
	"err.assertion":             {"Lenken fra tjenesten kunne ikke godtas (ugyldig, utløpt eller brukt før). Gå tilbake til tjenesten og prøv igjen.", "The link from the service could not be accepted (invalid, expired or used before). Go back to the service and try again."},
	"err.return_url":            {"Tjenesten ba om å sende deg til en adresse den ikke har lov til. Ingenting ble gjort.", "The service asked to send you to an address it is not allowed to. Nothing was done."},
	"err.no_signin":             {"Det er ingen innlogging i gang i denne nettleseren. Gå tilbake til tjenesten og prøv igjen.", "There is no sign-in under way in this browser. Go back to the service and try again."},
	"err.signin_expired":        {"Innloggingen er utløpt. Gå tilbake til tjenesten og prøv igjen.", "The sign-in has expired. Go back to the service and try again."},
	"err.push_denied":           {"Innloggingen ble avvist på telefonen.", "The sign-in was denied on the phone."},
	"err.push_fraud":            {"Innloggingen ble meldt som svindel. Kontakt brukerstøtte om det var deg.", "The sign-in was reported as fraud. Contact the helpdesk if it was you."},
	"err.provider":              {"Velg en måte å bekrefte identiteten på.", "Choose a way to prove your identity."},
	"err.proof_level":           {"Velg et sikkerhetsnivå.", "Choose an assurance level."},
	"err.proof_other_person":    {"Identiteten som ble bekreftet er ikke denne brukeren. Ingenting ble endret.", "The identity proven is not this user. Nothing was changed."},
	"err.key_missing":           {"Skriv inn API-nøkkelen.", "Enter the API key."},
	"err.key_invalid":           {"API-nøkkelen er ikke gyldig.", "The API key is not valid."},
	"err.key_scope":             {"Denne nøkkelen gir ikke tilgang til dette for virksomheten.", "This key gives no access to this for the organisation."},
	"err.operator":              {"Skriv inn saksbehandler.", "Enter the operator."},
	"err.ticket":                {"Skriv inn saksnummer (høyst 64 tegn).", "Enter the ticket (at most 64 characters)."},

	"err.invalid_argument":   {"Noe i skjemaet er ikke gyldig. Sjekk feltene og prøv igjen.", "Something in the form is not valid. Check the fields and try again."},
	"err.conflict":           {"Dette ble endret samtidig et annet sted. Last inn siden på nytt.", "This was changed elsewhere at the same time. Reload the page."},
	"err.invalid_code":       {"Koden stemmer ikke. Sjekk at du bruker riktig konto i appen, og prøv den neste koden.", "That code is not right. Check that you use the right account in the app, and try the next code."},
	"err.code_reused":        {"Koden er brukt før. Vent på neste kode i appen.", "That code was used before. Wait for the next code in the app."},
	"err.expired":            {"Tiden er ute. Start på nytt.", "Time is up. Start again."},
	"err.locked_out":         {"For mange feil. Vent litt og prøv igjen, eller kontakt brukerstøtte.", "Too many failures. Wait a little and try again, or contact the helpdesk."},
	"err.enrolment_required": {"Du har ingen metode ennå. Legg til en metode i sikkerhetsinformasjon.", "You have no method yet. Add one in security info."},
	"err.method_not_allowed": {"Denne metoden er ikke tillatt her.", "This method is not allowed here."},
	"err.insufficient_proof": {"Identiteten ble bekreftet på et for lavt nivå. Bruk BankID (høyt nivå). Ingenting ble endret.", "The identity was proven at too low a level. Use BankID (level high). Nothing was changed."},
	"err.push_paused":        {"Push er satt på pause etter flere ubesvarte forespørsler. Bruk en kode.", "Push is paused after several unanswered requests. Use a code."},
	"err.erased":             {"Denne brukeren er slettet.", "This user was erased."},
	"err.unauthorized":       {"Du har ikke tilgang til dette.", "You have no access to this."},
	"err.internal":           {"Noe gikk galt hos oss. Prøv igjen om litt.", "Something went wrong on our side. Try again in a little while."},
}

// translate looks key up in lang and formats it with args.
func translate(lang, key string, args ...any) string {
	e, ok := catalogue[key]
	if !ok {
		return "⟦" + key + "⟧"
	}
	s := e[0]
	if lang == LangEN {
		s = e[1]
	}
	if len(args) > 0 {
		return fmt.Sprintf(s, args...)
	}
	return s
}

// Date writes a time in the page's language, in Norwegian time.
func (p *page) Date(t time.Time) string {
	t = t.In(oslo)
	if p.Lang == LangEN {
		return t.Format("2 Jan 2006 15:04")
	}
	return t.Format("02.01.2006 kl. 15:04")
}

var oslo = func() *time.Location {
	if l, err := time.LoadLocation("Europe/Oslo"); err == nil {
		return l
	}
	return time.UTC
}()

// Who is the hidden fields naming the account a form is for.
func (p *page) Who(tenant, user string) template.HTML {
	return template.HTML(`<input type="hidden" name="tenant" value="` + template.HTMLEscapeString(tenant) +
		`"><input type="hidden" name="user" value="` + template.HTMLEscapeString(user) + `">`)
}

// Field is what the person typed into a field of the form being answered,
// to show it again.
func (p *page) Field(name string) string {
	if p.r.PostForm == nil || name == "key" || name == "code" || name == "secret" {
		return ""
	}
	return p.r.PostForm.Get(name)
}

var funcs = template.FuncMap{
	"mmss": func(sec int) string { return fmt.Sprintf("%d:%02d", sec/60, sec%60) },
	"minutes": func(sec int) int {
		return (sec + 59) / 60
	},
	// dataURL lets through only the data URLs the pages make themselves
	// (QR codes, the recovery codes file).
	"dataURL": func(s string) template.URL {
		if strings.HasPrefix(s, "data:image/png;base64,") || strings.HasPrefix(s, "data:text/plain;charset=utf-8;base64,") {
			return template.URL(s)
		}
		return ""
	},
	"list": func(s ...string) []string { return s },
}
