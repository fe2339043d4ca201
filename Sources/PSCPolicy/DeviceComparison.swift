import AuthenticatorCatalog
import AuthenticatorVerification
import Foundation
import WireFormat

/// What a key says of itself (authenticatorGetInfo) against what the catalog says of its model:
/// the AAGUID listed, the firmware accepted by the ANS, the options as the statement declares
/// them. The getInfo AAGUID is the device's claim: this finds disagreements, it proves nothing.
public enum DeviceComparison {
    public struct Item: Sendable, Equatable {
        /// `aaguid.listed`, `ans.decision`, `firmware.accepted`, `option.<name>`, `versions`,
        /// `algorithms`.
        public let check: String
        public let status: CriterionStatus
        public let detail: String
    }

    public static func compare(_ device: DeviceInfo, catalog: CatalogSnapshot, at time: Date) -> [Item] {
        guard let aaguid = device.aaguid else {
            return [Item(check: "aaguid.listed", status: .indeterminate, detail: "getInfo gave no AAGUID")]
        }
        let text = AAGUIDText.string(aaguid)
        guard let entry = catalog.entry(for: .aaguid(aaguid)) else {
            return [Item(check: "aaguid.listed", status: .notSatisfied, detail: "\(text) is in no active referencing list")]
        }
        var items = [Item(check: "aaguid.listed", status: .satisfied, detail: "\(text): \(entry.description)")]
        if let ans = entry.ans {
            let decision = ans.authenticator.decision
            let effect = decision.effect(at: time)
            items.append(
                Item(
                    check: "ans.decision", status: effect == .referenced ? .satisfied : .notSatisfied,
                    detail: "\(effect.rawValue) (\(decision.reference), \(ans.list.label))"))
            if let accepted = decision.acceptedFirmware {
                if let firmware = device.firmwareVersion {
                    items.append(
                        Item(
                            check: "firmware.accepted", status: accepted.contains(firmware) ? .satisfied : .notSatisfied,
                            detail: "firmware \(firmware); accepted: \(accepted.map(String.init).joined(separator: ", "))"))
                } else {
                    items.append(Item(check: "firmware.accepted", status: .indeterminate, detail: "getInfo gives no firmwareVersion"))
                }
            }
        } else {
            items.append(Item(check: "ans.decision", status: .notSatisfied, detail: "not on the ANS list"))
        }
        guard let declared = entry.statement?.getInfo else {
            items.append(Item(check: "statement.getInfo", status: .indeterminate, detail: "the statement declares no authenticatorGetInfo"))
            return items
        }
        if let statementAAGUID = declared["aaguid"]?.string, statementAAGUID.lowercased() != Hex.string(aaguid) {
            items.append(Item(check: "statement.aaguid", status: .notSatisfied, detail: "the statement's getInfo names \(statementAAGUID)"))
        }
        for name in ["uv", "clientPin", "rk", "up", "alwaysUv", "plat"] {
            guard let stated = declared["options"]?[name]?.bool else { continue }
            let actual = device.options[name]
            items.append(
                Item(
                    check: "option.\(name)", status: actual == stated ? .satisfied : .notSatisfied,
                    detail: "device \(actual.map(String.init) ?? "absent"), statement \(stated)"))
        }
        if let versions = declared["versions"]?.strings {
            let missing = Set(device.versions).subtracting(versions)
            items.append(
                Item(
                    check: "versions", status: missing.isEmpty ? .satisfied : .notSatisfied,
                    detail: missing.isEmpty ? device.versions.joined(separator: ", ") : "not declared: \(missing.sorted().joined(separator: ", "))"))
        }
        if let algorithms = declared["algorithms"]?.array?.compactMap({ $0["alg"]?.integer }) {
            let missing = Set(device.algorithms).subtracting(algorithms.map { Int(clamping: $0) })
            items.append(
                Item(
                    check: "algorithms", status: missing.isEmpty ? .satisfied : .notSatisfied,
                    detail: missing.isEmpty ? "as declared" : "not declared: \(missing.sorted().map(String.init).joined(separator: ", "))"))
        }
        return items
    }
}
