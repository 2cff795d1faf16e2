/** What the DNS parsers return instead of throwing. */
export function dnsError(kind, message) {
    return { kind, message };
}
//# sourceMappingURL=result.js.map