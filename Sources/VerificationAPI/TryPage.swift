import Hummingbird

/// `GET /` and `/try.js`: a page of the service's own origin that runs a registration and a
/// sign-in through the stateful API with the key an operator pastes in, so a browser on the
/// machine can try the service (the enrolment desk proper is another page). The script only
/// writes text nodes: nothing the server or the authenticator returns is parsed as HTML.
enum TryPage {
    static func register(on router: Router<APIRequestContext>) {
        router.get("/") { _, _ in response(html, type: "text/html; charset=utf-8") }
        router.get("/try.js") { _, _ in response(script, type: "text/javascript; charset=utf-8") }
    }

    static func response(_ text: String, type: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = type
        headers[.contentSecurityPolicy] = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
        headers[.xContentTypeOptions] = "nosniff"
        headers[.cacheControl] = "no-store"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static let html = """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>MIE Verifier: try a key</title>
        <style>
          body { font: 16px/1.5 system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; color: #1b1b1b; }
          label { display: block; margin-top: .75rem; font-weight: 600; }
          input { font: inherit; width: 100%; padding: .4rem; box-sizing: border-box; }
          button { font: inherit; margin: 1rem .5rem 0 0; padding: .5rem 1rem; }
          pre { background: #f3f3f3; padding: 1rem; overflow-x: auto; white-space: pre-wrap; }
          .accepted { color: #0a6a2f; } .refused, .error { color: #a4000f; }
        </style>
        </head>
        <body>
        <h1>MIE Verifier</h1>
        <p>Register a FIDO2 key for a holder and sign in with it, through this service's API. Paste an
        API key with the <code>enrolment</code> role (<code>mie-verifier clients add NAME --role enrolment</code>).</p>
        <form id="form">
          <label for="key">API key</label>
          <input id="key" type="password" autocomplete="off" required>
          <label for="holder">Holder id</label>
          <input id="holder" value="demo-holder" required>
          <label for="name">Holder name</label>
          <input id="name" value="Dr Demo" required>
          <label for="rpps">RPPS number (optional)</label>
          <input id="rpps" inputmode="numeric" pattern="[0-9]{11}">
          <button id="register" type="button">Register a key</button>
          <button id="signin" type="button">Sign in</button>
        </form>
        <h2>Result</h2>
        <p id="status" role="status" aria-live="polite">Nothing yet.</p>
        <pre id="result"></pre>
        <p>Enrolment desks: <a href="/enrol">the desk page</a> (operators sign in with their own key).</p>
        <script src="/try.js"></script>
        </body>
        </html>
        """

    static let script = """
        "use strict";
        const $ = (id) => document.getElementById(id);

        async function api(path, body) {
          const response = await fetch(path, {
            method: "POST",
            headers: { "Content-Type": "application/json", "Authorization": "Bearer " + $("key").value.trim() },
            body: JSON.stringify(body),
          });
          const json = await response.json();
          if (!response.ok) throw new Error((json.code || response.status) + ": " + (json.detail || ""));
          return json;
        }

        function show(text, cls, detail) {
          $("status").textContent = text;
          $("status").className = cls;
          $("result").textContent = detail ? JSON.stringify(detail, null, 2) : "";
        }

        async function register() {
          const holder = { id: $("holder").value, name: $("name").value, displayName: $("name").value };
          if ($("rpps").value) holder.rpps = $("rpps").value;
          const options = await api("/v1/registrations/options", { holder });
          const credential = await navigator.credentials.create({
            publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options.publicKey),
          });
          const result = await api("/v1/registrations", { ceremonyId: options.ceremonyId, response: credential.toJSON() });
          const verdict = result.verdict || "not verified";
          const stored = result.registered ? "registered" : "not registered";
          const amr = (result.amr || []).join(" ") || "none";
          show("Key " + stored + "; PSC verdict: " + verdict + "; AMR: " + amr, verdict === "accepted" ? "accepted" : "refused", result);
        }

        async function signIn() {
          const options = await api("/v1/assertions/options", { holder: $("holder").value });
          const credential = await navigator.credentials.get({
            publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options.publicKey),
          });
          const result = await api("/v1/assertions", { ceremonyId: options.ceremonyId, response: credential.toJSON() });
          if (result.verified) {
            show("Signed in as " + result.holder.name + "; AMR: " + (result.amr.join(" ") || "none"), result.pscAcceptable ? "accepted" : "refused", result);
          } else {
            show("Sign-in refused: " + result.error.code, "refused", result);
          }
        }

        function guarded(action) {
          return () => action().catch((error) => show("Error: " + error.message, "error"));
        }
        $("register").addEventListener("click", guarded(register));
        $("signin").addEventListener("click", guarded(signIn));
        """
}
