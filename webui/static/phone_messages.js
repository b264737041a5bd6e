// Messages page: new messages for me appear in the inbox as they arrive (live event stream).
(function () {
  "use strict";
  const inbox = document.getElementById("inbox");
  if (!inbox || !window.linebox) return;
  window.linebox.openEvents({
    message: (m) => {
      if (m.to !== inbox.dataset.me) return;
      const empty = document.getElementById("inbox-empty");
      if (empty) empty.remove();
      const li = document.createElement("li");
      li.className = "message new";
      const meta = document.createElement("div");
      meta.className = "meta";
      const from = document.createElement("strong");
      from.className = "from";
      from.textContent = m.from;                       // textContent: message text is never HTML
      meta.append(from, " · " + window.linebox.formatTime(m.at));
      const body = document.createElement("p");
      body.className = "body";
      body.textContent = m.body;
      li.append(meta, body);
      inbox.prepend(li);
    },
  });
})();
