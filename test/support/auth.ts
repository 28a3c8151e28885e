/** HTTP Basic headers as each dialect's clients send them. */
export function basicAuthHeader(secret: string, user = 'admin'): string {
  return 'Basic ' + Buffer.from(`${user}:${secret}`).toString('base64');
}
