import PSCPolicy

/// The desk's words in French and English. The page, the receipt and the script's messages take
/// them from here; a missing translation is a test failure, not an English word on a French page.
enum DeskLanguage: String, Sendable, CaseIterable {
    case fr, en

    /// `?lang=` first, then the language cookie, then `Accept-Language` (in order of preference,
    /// weights honoured), then French: the desks are in France.
    static func pick(query: String?, cookie: String?, acceptLanguage: String?) -> DeskLanguage {
        if let query, let language = DeskLanguage(rawValue: query) { return language }
        if let cookie, let language = DeskLanguage(rawValue: cookie) { return language }
        guard let acceptLanguage else { return .fr }
        let ranges = acceptLanguage.split(separator: ",").compactMap { item -> (String, Double)? in
            let parts = item.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard let tag = parts.first?.lowercased(), !tag.isEmpty else { return nil }
            let weight = parts.dropFirst().first { $0.hasPrefix("q=") }.flatMap { Double($0.dropFirst(2)) } ?? 1
            return (tag, weight)
        }
        for (tag, weight) in ranges.sorted(by: { $0.1 > $1.1 }) where weight > 0 {
            if let language = DeskLanguage(rawValue: String(tag.prefix(2))) { return language }
        }
        return .fr
    }
}

enum DeskText {
    /// Every phrase: key, French, English.
    static let phrases: [String: (fr: String, en: String)] = [
        "title": ("Guichet d'enrôlement", "Enrolment desk"),
        "lead": (
            "Remettre une clé FIDO2 à un professionnel de santé et la lier à son identité, avec le verdict Pro Santé Connect.",
            "Hand a FIDO2 key to a health professional and bind it to their identity, with the Pro Santé Connect verdict."
        ),
        "language": ("Langue", "Language"),
        "signInTitle": ("Connexion de l'opérateur", "Operator sign-in"),
        "operatorName": ("Nom d'opérateur", "Operator name"),
        "signIn": ("Se connecter avec ma clé", "Sign in with my key"),
        "bootstrapTitle": ("Première connexion : code à usage unique", "First sign-in: one-time code"),
        "bootstrapHelp": (
            "Saisissez le code donné par « mie-verifier operators add », puis enregistrez votre propre clé.",
            "Enter the code printed by “mie-verifier operators add”, then register your own key."
        ),
        "code": ("Code à usage unique", "One-time code"),
        "registerOperatorKey": ("Enregistrer ma clé", "Register my key"),
        "signedInAs": ("Connecté en tant que", "Signed in as"),
        "signOut": ("Se déconnecter", "Sign out"),
        "enrolTitle": ("Enrôler un professionnel", "Enrol a professional"),
        "givenName": ("Prénom", "Given name"),
        "surname": ("Nom", "Surname"),
        "rpps": ("Numéro RPPS (11 chiffres)", "RPPS number (11 digits)"),
        "rppsHelp": ("Vérifié par sa clé de Luhn.", "Checked with its Luhn key."),
        "enrolKey": ("Enrôler sa clé", "Enrol their key"),
        "resultTitle": ("Résultat", "Result"),
        "nothingYet": ("Rien pour l'instant.", "Nothing yet."),
        "holderTitle": ("Clés d'un professionnel", "A professional's keys"),
        "showKeys": ("Afficher ses clés", "Show their keys"),
        "model": ("Modèle", "Model"),
        "enrolledOn": ("Enrôlée le", "Enrolled on"),
        "lastUse": ("Dernière utilisation", "Last use"),
        "never": ("jamais", "never"),
        "verdict": ("Verdict PSC", "PSC verdict"),
        "evidence": ("Preuve d'identité", "Identity evidence"),
        "revoke": ("Révoquer", "Revoke"),
        "revoked": ("révoquée", "revoked"),
        "changedOn": ("verdict changé le", "verdict changed on"),
        "noKeys": ("Aucune clé enrôlée.", "No key enrolled."),
        "printReceipt": ("Imprimer le récépissé", "Print the receipt"),
        "amr": ("AMR portés à la connexion", "AMR carried at sign-in"),
        "none": ("aucun", "none"),
        "stored": ("Clé enregistrée pour", "Key registered for"),
        "notStored": ("Clé NON enregistrée pour", "Key NOT registered for"),
        "criterion": ("Critère", "Criterion"),
        "status": ("État", "Status"),
        "why": ("Pourquoi", "Why"),
        "working": ("Touchez la clé quand elle clignote…", "Touch the key when it blinks…"),
        "error": ("Erreur", "Error"),
        // French puts a (narrow no-break) space before a colon.
        "colon": ("\u{202F}: ", ": "),
        "confirmRevoke": ("Révoquer cette clé ? Elle ne pourra plus servir.", "Revoke this key? It can no longer be used."),
        "receiptTitle": ("Récépissé d'enrôlement", "Enrolment receipt"),
        "holder": ("Titulaire", "Holder"),
        "aaguid": ("AAGUID", "AAGUID"),
        "credentialId": ("Identifiant de la clé", "Credential ID"),
        "date": ("Date", "Date"),
        "deskOperator": ("Opérateur du guichet", "Desk operator"),
        "lists": ("Listes de référencement", "Referencing lists"),
        "profile": ("Profil", "Profile"),
        "print": ("Imprimer", "Print"),
        "back": ("Retour au guichet", "Back to the desk"),
        "signatures": ("Signature du titulaire", "Holder's signature"),
        "sessionEnded": ("Session terminée : reconnectez-vous.", "Session ended: sign in again."),
        // The OpenID Provider's sign-in page (/oidc/authorize).
        "oidcTitle": ("Connexion avec votre clé de sécurité", "Sign in with your security key"),
        "oidcLead": ("Votre établissement vous demande de vous authentifier pour", "Your organisation asks you to authenticate for"),
        "oidcFor": ("Compte :", "Account:"),
        "oidcSignIn": ("Utiliser ma clé de sécurité", "Use my security key"),
        "oidcHelp": (
            "Insérez votre clé FIDO2 enrôlée, appuyez sur le bouton, puis touchez la clé et saisissez son code si elle le demande.",
            "Insert your enrolled FIDO2 key, press the button, then touch the key and enter its PIN if it asks."
        ),
        "oidcCard": (
            "Carte CPS : cette page ne lit pas les cartes (un navigateur n'accède pas aux lecteurs PC/SC) ; utilisez votre clé FIDO2 enrôlée.",
            "CPS card: this page does not read cards (a browser cannot reach PC/SC readers); use your enrolled FIDO2 key."
        ),
        "oidcWaiting": ("Touchez votre clé…", "Touch your key…"),
        "oidcChecking": ("Vérification…", "Checking…"),
        "oidcDone": ("Authentification réussie : retour à votre application…", "Signed in: returning to your application…"),
        "oidcRetry": ("La clé n'a pas été acceptée ; réessayez", "The key was not accepted; try again"),
        "oidcCancelled": ("Opération annulée ou expirée ; réessayez.", "Cancelled or timed out; try again."),
        "oidcRefusedTitle": ("Authentification refusée", "Sign-in refused"),
        "oidcBack": ("Retourner à l'application", "Return to the application"),
        "oidcErrorTitle": ("Cette demande de connexion ne peut pas être traitée", "This sign-in request cannot be handled"),
        "verdict.accepted": ("accepté", "accepted"),
        "verdict.refused": ("refusé", "refused"),
        "verdict.indeterminate": ("indéterminé", "indeterminate"),
        "status.satisfied": ("satisfait", "satisfied"),
        "status.not_satisfied": ("non satisfait", "not satisfied"),
        "status.not_applicable": ("sans objet", "not applicable"),
        "status.indeterminate": ("indéterminé", "indeterminate"),
        "evidence.asserted-by-operator": ("saisie par l'opérateur", "asserted by the operator"),
        "evidence.proven-by-card": ("prouvée par carte CPS", "proven by CPS card"),
        "evidence.asserted-by-client": ("déclarée par le client de l'API", "asserted by the API client"),
        "badRPPS": ("Ce numéro RPPS n'est pas valide (11 chiffres, clé de Luhn).", "This RPPS number is not valid (11 digits, Luhn key)."),
    ]

    /// Plain words for a check that failed or could not be decided, by check kind: what the desk
    /// operator tells the holder. The engine's own reason is shown beside it.
    static let reasons: [String: (fr: String, en: String)] = [
        CheckKind.ansReferenced.rawValue: (
            "Cette clé ne figure pas sur la liste de référencement de l'ANS.", "This key is not on the ANS referencing list."
        ),
        CheckKind.attestationTrustedByCatalog.rawValue: (
            "Rien ne prouve quel modèle a fabriqué cette clé : son attestation n'est pas signée par un fabricant référencé.",
            "Nothing proves which model made this key: its attestation is not signed by a referenced manufacturer."
        ),
        CheckKind.userVerificationCapable.rawValue: (
            "Cette clé ne sait pas vérifier un code PIN ni une empreinte.", "This key cannot verify a PIN or a fingerprint."
        ),
        CheckKind.userVerified.rawValue: (
            "La clé n'a pas vérifié son utilisateur (PIN ou biométrie) pendant l'enrôlement.",
            "The key did not verify its user (PIN or biometrics) during enrolment."
        ),
        CheckKind.userPresent.rawValue: ("La clé n'a pas vérifié la présence de son utilisateur.", "The key did not check that its user was present."),
        CheckKind.keyProtection.rawValue: (
            "Ce modèle ne garde pas ses clés dans un composant matériel protégé.", "This model does not keep its keys in protected hardware."
        ),
        CheckKind.notSynced.rawValue: (
            "Cette clé peut être copiée sur d'autres appareils (passkey synchronisée).", "This credential can be copied to other devices (a synced passkey)."
        ),
        CheckKind.mdsStatus.rawValue: (
            "Ce modèle n'est pas certifié FIDO au niveau exigé, ou il est connu comme compromis.",
            "This model is not FIDO certified at the required level, or is known to be compromised."
        ),
        CheckKind.algorithmAllowed.rawValue: ("Cette clé signe avec un algorithme que PSC n'accepte pas.", "This key signs with an algorithm PSC does not accept."),
        CheckKind.originBound.rawValue: ("L'enrôlement n'était pas lié à ce site.", "The enrolment was not bound to this site."),
        CheckKind.listsFresh.rawValue: (
            "Les listes de référencement sont périmées : faites-les mettre à jour.", "The referencing lists are out of date: have them refreshed."
        ),
        CheckKind.identityBound.rawValue: ("La clé n'est pas liée à une identité vérifiée.", "The key is not bound to a verified identity."),
        CheckKind.amrDerived.rawValue: ("Les AMR de cette clé ne peuvent pas être établis.", "This key's AMR cannot be established."),
        CheckKind.traceListVersions.rawValue: ("Les versions des listes n'ont pas pu être tracées.", "The lists' versions could not be recorded."),
        CheckKind.reportComplete.rawValue: (
            "Le verdict repose sur des listes de démonstration : il ne prouve rien.", "The verdict rests on demonstration lists: it proves nothing."
        ),
    ]

    static func phrase(_ key: String, _ language: DeskLanguage) -> String {
        guard let phrase = phrases[key] else { return key }
        return language == .fr ? phrase.fr : phrase.en
    }

    static func reason(_ kind: CheckKind, _ language: DeskLanguage) -> String? {
        reasons[kind.rawValue].map { language == .fr ? $0.fr : $0.en }
    }

    /// The phrases as a Mustache context (`{{t.title}}`).
    static func context(_ language: DeskLanguage) -> [String: String] {
        phrases.mapValues { language == .fr ? $0.fr : $0.en }
    }
}
