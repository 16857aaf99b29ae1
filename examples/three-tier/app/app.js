'use strict';
// Each request adds one to a counter in PostgreSQL and answers with the
// new count and this instance's name: "INSTANCE COUNT".
const http = require('http');
const { Pool } = require('pg');

const instance = process.env.INSTANCE || 'app';
const port = Number(process.env.PORT || 3000);
const host = process.env.HOST || '0.0.0.0';   // every address: nginx comes from the network
const pool = new Pool({ max: 4 });      // host, port, user, database from PG* variables

const server = http.createServer(async (req, res) => {
  res.setHeader('Content-Type', 'text/plain');
  if (req.url === '/health') {
    res.end(`${instance} ok\n`);
    return;
  }
  try {
    const r = await pool.query('UPDATE visits SET count = count + 1 WHERE id = 1 RETURNING count');
    res.end(`${instance} ${r.rows[0].count}\n`);
  } catch (e) {
    res.statusCode = 503;
    res.end(`${instance} error: ${e.message}\n`);
  }
});

server.listen(port, host, () => console.log(`${instance} listening on ${host}:${port}`));

// cairn stop sends SIGTERM (the default stop signal): finish and exit 0.
process.on('SIGTERM', () => {
  console.log(`${instance} stopping`);
  server.close();
  pool.end().then(() => process.exit(0));
});
