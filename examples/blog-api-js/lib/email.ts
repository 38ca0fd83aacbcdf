// A plain shape check for an email address, shared by the routes that take one: one `@`,
// something before it, a dotted domain after it, no spaces. Lives outside `pages/`, so it is
// bundled into the routes that import it and is not a route itself.

/** Why `email` is not an address we accept, or `null` when it is one. */
export function emailProblem(email: string): string | null {
  if (email.length === 0) return 'email is required';
  if (email.length > 254 || /[\s\x00-\x1f\x7f-\x9f]/.test(email)) {
    return 'email is not a valid address';
  }
  const at = email.indexOf('@');
  if (at === -1) return 'email must contain @';
  const [local, domain] = [email.slice(0, at), email.slice(at + 1)];
  const labelsOk = domain.split('.').every((label) => label.length > 0);
  if (local.length === 0 || domain.includes('@') || !domain.includes('.') || !labelsOk) {
    return 'email is not a valid address';
  }
  return null;
}
