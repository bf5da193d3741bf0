/**
 * A password for `latchkey user create`: typed at a terminal without being shown, or read from
 * standard input when it is a pipe or a file (never an argument, which other users can see in
 * the process list).
 */
export async function readPassword(
  input: NodeJS.ReadStream = process.stdin,
  prompt: NodeJS.WriteStream = process.stderr,
  label = 'Password',
): Promise<string> {
  if (!input.isTTY) {
    const chunks: Buffer[] = [];
    for await (const chunk of input) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks)
      .toString('utf8')
      .replace(/\r?\n$/, '');
  }
  prompt.write(`${label} (not shown): `);
  input.setRawMode(true);
  input.resume();
  input.setEncoding('utf8');
  try {
    return await new Promise<string>((resolve, reject) => {
      let typed = '';
      const onData = (keys: string) => {
        for (const key of keys) {
          if (key === '\r' || key === '\n') {
            input.off('data', onData);
            prompt.write('\n');
            resolve(typed);
            return;
          }
          if (key === '\u0003') {
            input.off('data', onData);
            prompt.write('\n');
            reject(new Error('cancelled'));
            return;
          }
          typed = key === '\u007f' || key === '\b' ? typed.slice(0, -1) : typed + key;
        }
      };
      input.on('data', onData);
    });
  } finally {
    input.setRawMode(false);
    input.pause();
  }
}
