/** What `body` writes to stdout while it runs, kept from the test's own output. */
export async function stdoutOf(body: () => Promise<void> | void): Promise<string> {
  let out = '';
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  }) as typeof process.stdout.write;
  try {
    await body();
  } finally {
    process.stdout.write = write;
  }
  return out;
}
