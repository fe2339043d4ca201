/// Check digits of identifiers people type or cards carry.
public enum CheckDigit {
    /// Luhn (mod 10) over ASCII digits, the last one being the check digit (RPPS numbers, the
    /// national identifiers of health professionals, carry one).
    public static func luhn(_ digits: some StringProtocol) -> Bool {
        let bytes = Array(digits.utf8)
        guard bytes.count >= 2, bytes.allSatisfy({ (0x30...0x39).contains($0) }) else { return false }
        var sum = 0
        for (index, byte) in bytes.reversed().enumerated() {
            let value = Int(byte &- 0x30)
            if index % 2 == 1 {
                let doubled = value * 2
                sum += doubled > 9 ? doubled - 9 : doubled
            } else {
                sum += value
            }
        }
        return sum % 10 == 0
    }

    /// An RPPS number: 11 ASCII digits whose Luhn key holds.
    public static func isRPPS(_ text: some StringProtocol) -> Bool {
        text.utf8.count == 11 && luhn(text)
    }
}
