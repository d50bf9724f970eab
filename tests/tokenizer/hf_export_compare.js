// Reads the tokenizer.json that tokenizer_save wrote for tok512.bin with
// Hugging Face `tokenizers` (Rust, node bindings) and checks, for each case
// of cases.json (made by `test_tokenizer_hf_export --dump DIR`), the ids of
// the llama2.c encoder without and with special tokens, and that decoding
// with skip_special_tokens gives the text back.  Exit 0 when all agree.
const { Tokenizer } = require('tokenizers');
const fs = require('fs');
const path = require('path');
async function main() {
  const dir = process.argv[2];
  const tok = Tokenizer.fromFile(path.join(dir, 'tokenizer.json'));
  const cases = JSON.parse(fs.readFileSync(path.join(dir, 'cases.json'), 'utf8'));
  const same = (a, b) => a.length === b.length && a.every((v, i) => v === b[i]);
  let bad = 0;
  for (const [i, c] of cases.entries()) {
    const text = Buffer.from(c.text_hex, 'hex').toString('utf8');
    const plain = Array.from((await tok.encode(text, null, { addSpecialTokens: false })).getIds());
    const bos = Array.from((await tok.encode(text, null, { addSpecialTokens: true })).getIds());
    const decoded = await tok.decode(bos, true);
    const problems = [];
    if (!same(plain, c.ids)) problems.push(`ids [${plain}] want [${c.ids}]`);
    if (!same(bos, c.ids_bos)) problems.push(`ids with BOS [${bos}] want [${c.ids_bos}]`);
    if (decoded !== text) problems.push(`decodes as ${JSON.stringify(decoded)}`);
    if (problems.length) {
      if (bad++ < 20) console.log(`case ${i} ${JSON.stringify(text)}: ${problems.join('; ')}`);
    }
  }
  console.log(`tokenizers: ${cases.length - bad} of ${cases.length} texts agree with tokenizer.bin`);
  process.exit(bad ? 1 : 0);
}
main().catch((e) => { console.error(e); process.exit(1); });
