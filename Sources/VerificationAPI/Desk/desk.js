"use strict";
// The enrolment desk's page. Everything the server or an authenticator returns is written as
// text (textContent), never parsed as HTML; the only URLs set are the receipt's, built from a
// base64url id, and icons that are data: images.
(function () {
  const $ = (id) => document.getElementById(id);

  const printButton = $("print");
  if (printButton) {
    printButton.addEventListener("click", () => window.print());
    return;
  }

  const words = JSON.parse(document.body.dataset.strings || "{}");
  const t = (key) => words[key] || key;
  let csrf = null;

  function status(text, error) {
    $("status").textContent = text;
    $("status").className = error ? "error" : "";
  }

  async function call(method, path, body) {
    const headers = { "Accept": "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (csrf) headers["X-CSRF-Token"] = csrf;
    const response = await fetch(path, {
      method, headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await response.json().catch(() => ({}));
    if (!response.ok) {
      if (response.status === 401 && csrf) signedOut(t("sessionEnded"));
      const error = new Error((json.code || response.status) + ": " + (json.detail || ""));
      error.code = json.code;
      throw error;
    }
    return json;
  }

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    if (className) node.className = className;
    return node;
  }

  function signedIn(session) {
    csrf = session.csrf;
    $("who").textContent = session.operator;
    $("signin").hidden = true;
    $("desk").hidden = false;
    $("given").focus();
  }

  function signedOut(message) {
    csrf = null;
    $("desk").hidden = true;
    $("signin").hidden = false;
    status(message || "", Boolean(message));
    $("operator").focus();
  }

  async function bootstrap(event) {
    event.preventDefault();
    const code = $("code").value.trim();
    const options = await call("POST", "/enrol/api/operators/options", { code });
    status(t("working"));
    const credential = await navigator.credentials.create({
      publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options.publicKey),
    });
    const session = await call("POST", "/enrol/api/operators", { code, ceremonyId: options.ceremonyId, response: credential.toJSON() });
    $("code").value = "";
    status("");
    signedIn(session);
  }

  async function signIn(event) {
    event.preventDefault();
    const options = await call("POST", "/enrol/api/session/options", { operator: $("operator").value.trim() });
    status(t("working"));
    const credential = await navigator.credentials.get({
      publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options.publicKey),
    });
    const session = await call("POST", "/enrol/api/session", { ceremonyId: options.ceremonyId, response: credential.toJSON() });
    status("");
    signedIn(session);
  }

  async function signOut() {
    await call("DELETE", "/enrol/api/session");
    signedOut("");
  }

  function showResult(result) {
    const body = $("result-body");
    body.replaceChildren();
    const holder = result.holder || {};
    body.append(el("p", (result.registered ? t("stored") : t("notStored")) + " " + (holder.displayName || "") + " (RPPS " + (holder.rpps || "") + ")",
      result.registered ? "" : "refused"));
    if (result.error) {
      body.append(el("p", t("error") + t("colon") + result.error.code + " " + result.error.message, "refused"));
    } else {
      const model = el("div", null, "model");
      const icon = result.authenticator && result.authenticator.icon;
      if (icon && icon.startsWith("data:image/")) {
        const img = document.createElement("img");
        img.src = icon;
        img.alt = "";
        model.append(img);
      }
      const name = el("div");
      name.append(el("strong", result.authenticator.name, "model-name"), el("div", "AAGUID " + (result.authenticator.aaguid || "—")));
      model.append(name);
      body.append(model);
      const verdict = el("p", null, "verdict");
      verdict.append(t("verdict") + t("colon"), el("span", result.verdictText, result.verdict));
      verdict.id = "verdict";
      body.append(verdict);
      body.append(el("p", t("amr") + t("colon") + ((result.amr || []).join(" ") || t("none")), "amr"));
      const table = el("table");
      table.id = "criteria";
      const head = el("tr");
      head.append(el("th", t("criterion")), el("th", t("status")), el("th", t("why")));
      table.append(head);
      for (const criterion of result.criteria) {
        const row = el("tr");
        row.dataset.status = criterion.status;
        const why = el("td");
        for (const words of criterion.plain || []) why.append(el("span", words, "plain"));
        why.append(el("span", criterion.reason, "engine"));
        row.append(el("td", criterion.id + " · " + criterion.title), el("td", criterion.statusText, criterion.status), why);
        table.append(row);
      }
      body.append(table);
      if (result.receipt) {
        const link = el("a", t("printReceipt"));
        link.href = "/enrol/receipt/" + encodeURIComponent(result.credentialId);
        link.id = "receipt-link";
        const line = el("p");
        line.append(link);
        body.append(line);
      }
    }
    $("result").hidden = false;
    $("result-title").focus();
  }

  async function enrol(event) {
    event.preventDefault();
    const rpps = $("rpps").value.replace(/\s/g, "");
    const options = await call("POST", "/enrol/api/enrolments/options", {
      givenName: $("given").value.trim(), surname: $("surname").value.trim(), rpps,
    });
    status(t("working"));
    const credential = await navigator.credentials.create({
      publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options.publicKey),
    });
    const result = await call("POST", "/enrol/api/enrolments", { ceremonyId: options.ceremonyId, response: credential.toJSON() });
    status("");
    showResult(result);
  }

  async function showKeys(event) {
    if (event) event.preventDefault();
    const rpps = $("holder-rpps").value.replace(/\s/g, "");
    const answer = await call("GET", "/enrol/api/holders/" + encodeURIComponent(rpps));
    const area = $("holder-keys");
    area.replaceChildren(el("p", answer.holder.displayName + " · RPPS " + answer.holder.rpps));
    if (!answer.credentials.length) {
      area.append(el("p", t("noKeys")));
      return;
    }
    const table = el("table");
    table.id = "keys";
    const head = el("tr");
    for (const key of ["model", "enrolledOn", "lastUse", "verdict", "evidence", ""]) head.append(el("th", key ? t(key) : ""));
    table.append(head);
    for (const key of answer.credentials) {
      const row = el("tr");
      row.dataset.credential = key.id;
      const action = el("td");
      if (key.deletedAt) {
        action.append(el("span", t("revoked"), "refused"));
      } else {
        const button = el("button", t("revoke"), "danger");
        button.type = "button";
        button.setAttribute("aria-label", t("revoke") + " " + key.authenticator);
        button.addEventListener("click", guarded(() => revoke(key.id)));
        action.append(button);
      }
      const verdict = el("td", key.verdictText, key.verdict);
      if (key.verdictChangeText) verdict.append(el("small", key.verdictChangeText, "change"));
      row.append(el("td", key.authenticator), el("td", key.createdAt.slice(0, 10)), el("td", key.lastUsedAt ? key.lastUsedAt.slice(0, 16).replace("T", " ") : t("never")),
        verdict, el("td", key.evidenceText), action);
      table.append(row);
    }
    area.append(table);
  }

  async function revoke(id) {
    if (!window.confirm(t("confirmRevoke"))) return;
    await call("POST", "/enrol/api/credentials/" + encodeURIComponent(id) + "/revoke", {});
    await showKeys();
  }

  function guarded(action) {
    return (event) => action(event).catch((error) => {
      if (event && event.preventDefault) event.preventDefault();
      status(t("error") + t("colon") + error.message, true);
    });
  }

  $("bootstrap-form").addEventListener("submit", guarded(bootstrap));
  $("signin-form").addEventListener("submit", guarded(signIn));
  $("signout").addEventListener("click", guarded(signOut));
  $("enrol-form").addEventListener("submit", guarded(enrol));
  $("holder-form").addEventListener("submit", guarded(showKeys));

  fetch("/enrol/api/session", { credentials: "same-origin", headers: { "Accept": "application/json" } })
    .then((response) => (response.ok ? response.json() : null))
    .then((session) => (session ? signedIn(session) : signedOut()))
    .catch(() => signedOut());
})();
