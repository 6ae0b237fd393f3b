// peer.mjs: the benchmark's peer (tests/bench/wait.sh).  What a user
// would write with the official OpenAI Node SDK: read JSONL
// ({"prompt": ..., "id": ...} a line) from stdin, send each prompt as a
// chat completion with at most P requests in flight (a semaphore), and
// write one JSON line per input line to stdout, in input order.
//
//   node peer.mjs P MODEL BASE_URL <in.jsonl >out.jsonl
//
// The key comes from OPENAI_API_KEY.  The SDK's own retries (2) and
// timeout are left at their defaults.
import OpenAI from 'openai';
import readline from 'node:readline';

const P = Number(process.argv[2] || 8);
const model = process.argv[3] || 'mock-model';
const client = new OpenAI({ baseURL: process.argv[4] });

class Semaphore {
	constructor(n) { this.free = n; this.waiters = []; }
	acquire() {
		if (this.free > 0) { this.free--; return Promise.resolve(); }
		return new Promise((resolve) => this.waiters.push(resolve));
	}
	release() {
		const next = this.waiters.shift();
		if (next) next(); else this.free++;
	}
}

const sem = new Semaphore(P);
const done = new Map();	// line number -> output line, until written
let next = 0;		// the next line number to write
let failed = 0;

function flush() {
	let out = '';
	while (done.has(next)) {
		out += done.get(next) + '\n';
		done.delete(next);
		next++;
	}
	if (out) process.stdout.write(out);
}

async function one(i, line) {
	let rec;
	try {
		const req = JSON.parse(line);
		const r = await client.chat.completions.create({
			model, messages: [{ role: 'user', content: req.prompt }],
		});
		rec = { id: req.id, answer: r.choices[0].message.content };
	} catch (e) {
		failed++;
		rec = { line: i + 1, error: String(e && e.message || e) };
	}
	done.set(i, JSON.stringify(rec));
	flush();
	sem.release();
}

const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
let i = 0;
for await (const line of rl) {
	await sem.acquire();
	one(i++, line);
}
for (let k = 0; k < P; k++)	// every request has ended
	await sem.acquire();
flush();
if (failed) {
	process.stderr.write(`peer: ${failed} of ${i} requests failed\n`);
	process.exitCode = 1;
}
