/** Linux's longest interface name in bytes (IFNAMSIZ 16, less the terminating NUL). */
export const LINUX_MAX_NAME_BYTES = 15;

/**
 * Why `name` cannot be a Linux interface name, or undefined when it can. Mirrors the kernel's `dev_valid_name` and
 * `dev_alloc_name` so the error is clear instead of a bare EINVAL: 1–15 bytes, not `.` or `..`, no `/`, `:`, NUL or
 * whitespace, and `%` only as a single `%d` the kernel replaces with the first free number.
 */
export function linuxInterfaceNameProblem(name: string): string | undefined {
  const bytes = Buffer.byteLength(name);
  if (bytes === 0) return 'it is empty';
  if (bytes > LINUX_MAX_NAME_BYTES) return `it is ${bytes} bytes long; Linux allows at most ${LINUX_MAX_NAME_BYTES}`;
  if (name === '.' || name === '..') return 'it is "." or ".."';
  // The kernel's isspace() is ASCII only: space, \t, \n, \v, \f, \r.
  if (/[/:\0 \t\n\v\f\r]/.test(name)) return 'it contains "/", ":", NUL or whitespace';
  const percent = name.indexOf('%');
  if (percent >= 0 && (name[percent + 1] !== 'd' || name.includes('%', percent + 2))) {
    return '"%" may appear only once, as "%d"';
  }
  return undefined;
}
