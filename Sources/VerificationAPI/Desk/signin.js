"use strict";
// The OpenID Provider's sign-in page. The request's handle and CSRF token come in data
// attributes; every call sends them in headers, with the browser's cookie. Text from the server
// is written with textContent only. The answer for the IAM is a navigation or a form this script
// builds and posts (form_post), to the redirect URI the server checked.
(function () {
  const $ = (id) => document.getElementById(id);
  const page = document.body.dataset;
  const words = JSON.parse(page.strings || "{}");
  const t = (key) => words[key] || key;

  function status(text, error) {
    const node = $("status");
    if (!node) return;
    node.textContent = text;
    node.className = error ? "error" : "";
  }

  function follow(answer) {
    if (answer.mode === "redirect") {
      window.location.assign(answer.location);
      return;
    }
    const form = document.createElement("form");
    form.method = "post";
    form.action = answer.action;
    for (const field of answer.fields) {
      const input = document.createElement("input");
      input.type = "hidden";
      input.name = field.name;
      input.value = field.value;
      form.appendChild(input);
    }
    document.body.appendChild(form);
    form.submit();
  }

  if (page.answer) {
    follow(JSON.parse(page.answer));
    return;
  }
  const button = $("signin-button");
  if (!button || !page.request) return;

  async function call(path, body) {
    const response = await fetch(path, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": page.csrf, "X-OIDC-Request": page.request },
      body: JSON.stringify(body),
    });
    const json = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error((json.code || response.status) + ": " + (json.detail || ""));
    return json;
  }

  async function signIn() {
    button.disabled = true;
    status(t("oidcWaiting"));
    try {
      const options = await call("/oidc/signin/options", {});
      const credential = await navigator.credentials.get({
        publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options.publicKey),
      });
      status(t("oidcChecking"));
      const result = await call("/oidc/signin", { ceremonyId: options.ceremonyId, response: credential.toJSON() });
      if (result.retry) {
        status(t("oidcRetry") + " (" + result.retry.code + ")", true);
        button.disabled = false;
        button.focus();
        return;
      }
      if (result.refused) {
        $("signin").hidden = true;
        $("refused").hidden = false;
        $("refusal").textContent = result.refused;
        $("back").addEventListener("click", () => follow(result.answer));
        $("back").focus();
        status("");
        return;
      }
      status(t("oidcDone"));
      follow(result.answer);
    } catch (error) {
      status(error && error.name === "NotAllowedError" ? t("oidcCancelled") : String(error.message || error), true);
      button.disabled = false;
      button.focus();
    }
  }

  button.addEventListener("click", signIn);
  button.focus();
})();
