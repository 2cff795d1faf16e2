/** The sign-in page: server-rendered, no script, every interpolated value escaped. */

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function signInPage(options: { requestId: string; email?: string; error?: string; oidcLabel?: string }): string {
  const { requestId, email = '', error, oidcLabel } = options;
  const sso = oidcLabel
    ? `<p><a class="button" href="/sign-in/oidc?request=${encodeURIComponent(requestId)}">${escapeHtml(oidcLabel)}</a></p><p class="or">or</p>`
    : '';
  return page(
    'Sign in to Postern',
    `${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}${sso}
<form method="post" action="/sign-in/password">
  <input type="hidden" name="request" value="${escapeHtml(requestId)}">
  <label>Email <input name="email" type="email" autocomplete="username" required value="${escapeHtml(email)}"></label>
  <label>Password <input name="password" type="password" autocomplete="current-password" required></label>
  <button type="submit">Sign in</button>
</form>`,
  );
}

export function messagePage(title: string, message: string): string {
  return page(title, `<p>${escapeHtml(message)}</p>`);
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:22rem;margin:4rem auto;padding:0 1rem;color:#1b1f24}
label{display:block;margin:.8rem 0}input{display:block;width:100%;padding:.5rem;margin-top:.3rem;box-sizing:border-box}
button,.button{display:inline-block;padding:.6rem 1.2rem;background:#1b5fd6;color:#fff;border:0;border-radius:4px;text-decoration:none}
.error{color:#b3261e}.or{color:#667}
</style></head>
<body><h1>${escapeHtml(title)}</h1>
${body}
</body></html>`;
}
