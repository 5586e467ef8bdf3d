// Drive Tidings with imapflow, the IMAP client library many Node.js mail
// tools are built on: connect (STARTTLS when offered, any certificate),
// log in, list mailboxes, fetch the first INBOX message (envelope and
// source), then IDLE on INBOX until a new message arrives.
//
// Usage: node imapflow-check.mjs PORT USER PASSWORD [IDLE_TIMEOUT_MS]
//
// Protocol with the caller on stdout, one JSON object a line:
//   {"event":"idling"}          IDLE has been acknowledged by the server;
//                               the caller now delivers a message
//   {"event":"result", ...}     everything the test asserts on, printed
//                               once, last; exit status 0 when the run
//                               got that far (the caller judges the values)
// Errors go to stderr and exit with status 1.
import { webcrypto } from 'node:crypto';

// Debian 12's Node 18 has no global Web Crypto; imapflow uses
// globalThis.crypto.getRandomValues.  Provide it before imapflow loads.
if (!globalThis.crypto) {
    globalThis.crypto = webcrypto;
}
const { ImapFlow } = await import('imapflow');

const [port, user, pass, idleTimeoutArg] = process.argv.slice(2);
const idleTimeout = Number(idleTimeoutArg || 8000);

function emit(obj) {
	process.stdout.write(JSON.stringify(obj) + '\n');
}

// imapflow logs through a pino-like object; we watch for its own
// "IDLE acknowledged" message so the caller delivers while we really idle
// (RFC 2177: the server's "+" continuation starts the IDLE).
let onIdleStarted = null;
const logs = [];
function log(level) {
	return (entry) => {
		const msg = entry && entry.msg;
		logs.push(`${level}: ${msg || ''} ${entry && entry.comment ? entry.comment : ''}`);
		if (msg === 'Initiated IDLE, waiting for server input' && onIdleStarted) {
			const f = onIdleStarted;
			onIdleStarted = null;
			f();
		}
	};
}
const logger = {
	trace: log('trace'), debug: log('debug'), info: log('info'),
	warn: log('warn'), error: log('error'), fatal: log('fatal'),
};

const client = new ImapFlow({
	host: '127.0.0.1',
	port: Number(port),
	secure: false,
	tls: { rejectUnauthorized: false },
	auth: { user, pass },
	logger,
	// IDLE only when the test asks for it, so the fetch below runs first.
	disableAutoIdle: true,
	connectionTimeout: 5000,
	greetingTimeout: 5000,
});

const result = { event: 'result' };

async function main() {
	await client.connect();
	result.secure = Boolean(client.secureConnection);
	result.capabilities = [...client.capabilities.keys()].sort();

	const list = await client.list();
	result.mailboxes = list.map((m) => m.path).sort();
	result.specialUse = Object.fromEntries(
		list.filter((m) => m.specialUse).map((m) => [m.path, m.specialUse]));

	const lock = await client.getMailboxLock('INBOX');
	try {
		result.exists = client.mailbox.exists;
		result.uidValidity = String(client.mailbox.uidValidity);
		const msg = await client.fetchOne('1', { envelope: true, source: true, uid: true, flags: true, size: true });
		result.first = {
			uid: msg.uid,
			size: msg.size,
			flags: [...msg.flags],
			subject: msg.envelope.subject,
			from: msg.envelope.from.map((a) => a.address),
			to: msg.envelope.to.map((a) => a.address),
			messageId: msg.envelope.messageId,
			source: msg.source.toString('utf8'),
		};

		// IDLE until the server pushes EXISTS for the delivered message.
		const existsSeen = new Promise((resolve, reject) => {
			const timer = setTimeout(() => reject(new Error('no exists event while idling')), idleTimeout);
			client.on('exists', (data) => {
				clearTimeout(timer);
				resolve(data);
			});
		});
		const idleStarted = new Promise((resolve) => { onIdleStarted = resolve; });
		const idling = client.idle();
		await idleStarted;
		emit({ event: 'idling' });
		const ev = await existsSeen;
		result.existsEvent = { path: ev.path, count: ev.count, prevCount: ev.prevCount };

		// Leaving IDLE (DONE) and fetching the new message proves the
		// session is still usable after the push.
		const fresh = await client.fetchOne(String(ev.count), { envelope: true, uid: true });
		result.pushed = { uid: fresh.uid, subject: fresh.envelope.subject };
		await idling;
	} finally {
		lock.release();
	}
	await client.logout();
	result.loggedOut = true;
	emit(result);
}

main().then(() => process.exit(0), (err) => {
	process.stderr.write(`imapflow-check: ${err && err.stack ? err.stack : err}\n`);
	if (err && err.responseText)
		process.stderr.write(`server said: ${err.responseText}\n`);
	process.stderr.write(logs.slice(-40).join('\n') + '\n');
	try { client.close(); } catch (e) { /* already closed */ }
	process.exit(1);
});
