// What the test peers (client.js, server.js) do to a WebSocket's load:
// push binary messages toward the other side at a rate or as fast as the
// socket takes them, and read in bursts.

'use strict';

// A pusher: start(bytes, ms) sends a message of that size every ms ms;
// start('flood') sends 64 KB messages, each once the last one is in the
// socket; stop() ends either; pushed() says how many bytes were sent.

exports.pusher = (ws) => {
  let pushed = 0;
  let timer = null;
  let flooding = false;

  const stop = () => {
    clearInterval(timer);
    timer = null;
    flooding = false;
  };

  const start = (bytes, ms) => {
    if (bytes === 'flood') {
      const chunk = Buffer.alloc(65536, 0x66);
      const next = () => {
        if (!flooding || ws.readyState !== ws.OPEN) {
          return;
        }
        pushed += chunk.length;
        ws.send(chunk, next);
      };
      flooding = true;
      next();
      return;
    }
    const chunk = Buffer.alloc(bytes, 0x70);
    timer = setInterval(() => {
      pushed += chunk.length;
      ws.send(chunk);
    }, ms);
  };

  ws.on('close', stop);
  return { start, stop, pushed: () => pushed };
};

// reads in short bursts: paused p ms, reading r ms, over and over

exports.slow = (ws, p, r) => {
  const cycle = () => {
    if (ws.readyState !== ws.OPEN) {
      return;
    }
    ws._socket.pause();
    setTimeout(() => {
      ws._socket.resume();
      setTimeout(cycle, r);
    }, p);
  };
  cycle();
};
