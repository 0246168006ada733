/* Convolution explorer: a kernel stepping over a zero-padded input, the output filling in,
   the output size from the formula and the parameter counts of a convolutional layer against
   a fully connected layer with the same input and output. No kernel needed: plain JS + SVG.
   Conventions as in the book: P is padding per side, H_out = floor((n + 2P - K) / S) + 1. */
(function () {
  "use strict";

  /** Output size along one axis, or null when the kernel does not fit the padded input. */
  function outputSize(n, k, s, p) {
    if (!(n >= 1 && k >= 1 && s >= 1 && p >= 0)) return null;
    if (k > n + 2 * p) return null;
    return Math.floor((n + 2 * p - k) / s) + 1;
  }

  /** Parameters of the conv layer and of a dense layer mapping the same input to the same output. */
  function paramCounts(cIn, cOut, k, n, s, p) {
    const out = outputSize(n, k, s, p);
    if (out === null) return null;
    const inputs = cIn * n * n;
    const outputs = cOut * out * out;
    return {
      conv: cOut * cIn * k * k + cOut,
      convWeights: cOut * cIn * k * k,
      dense: inputs * outputs + outputs,
      denseWeights: inputs * outputs,
      outputs: outputs,
    };
  }

  /** Why a setting is invalid or rounded, in words; "" when it is fine. */
  function explain(n, k, s, p) {
    if (k > n + 2 * p) {
      return `The ${k}×${k} kernel is larger than the padded input (${n} + 2·${p} = ${n + 2 * p}): ` +
        "there is no position where it fits. Use a smaller kernel or more padding.";
    }
    const rest = (n + 2 * p - k) % s;
    if (rest !== 0) {
      return `With stride ${s} the windows do not reach the end: (n + 2P − K) = ${n + 2 * p - k} is not ` +
        `a multiple of S = ${s}, so the last ${rest} row(s) and column(s) of the padded input are never ` +
        "covered. The formula rounds down (⌊·⌋) and those pixels are ignored.";
    }
    return "";
  }

  const fmt = (x) => x.toLocaleString("en-US");
  const FIELDS = [
    ["n", "Input size n (H = W)", 7, 1, 16],
    ["k", "Kernel size K", 3, 1, 9],
    ["s", "Stride S", 1, 1, 5],
    ["p", "Padding P (per side)", 1, 0, 4],
    ["cin", "Input channels C_in", 3, 1, 64],
    ["cout", "Filters C_out", 4, 1, 64],
  ];
  const SVG = "http://www.w3.org/2000/svg";

  function element(tag, attributes, parent) {
    const node = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
    if (parent) parent.appendChild(node);
    return node;
  }

  function build(root) {
    root.innerHTML = "";
    const form = document.createElement("form");
    form.className = "cx-controls";
    form.addEventListener("submit", (event) => event.preventDefault());
    const inputs = {};
    for (const [name, label, value, min, max] of FIELDS) {
      const wrapper = document.createElement("label");
      wrapper.textContent = label + " ";
      const input = document.createElement("input");
      Object.assign(input, { type: "number", value, min, max, step: 1, name });
      input.setAttribute("data-field", name);
      wrapper.appendChild(input);
      form.appendChild(wrapper);
      inputs[name] = input;
    }
    const buttons = document.createElement("div");
    buttons.className = "cx-buttons";
    const make = (text, action) => {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = text;
      button.setAttribute("data-action", action);
      buttons.appendChild(button);
      return button;
    };
    const play = make("▶ Play", "play");
    const step = make("Step ›", "step");
    const reset = make("↺ Reset", "reset");
    const message = document.createElement("p");
    message.className = "cx-message";
    message.setAttribute("role", "status");
    message.setAttribute("aria-live", "polite");
    const size = document.createElement("p");
    size.className = "cx-size";
    const counts = document.createElement("table");
    counts.className = "cx-counts";
    const figure = element("svg", { class: "cx-figure", role: "img" });
    root.append(form, buttons, figure, size, message, counts);

    let position = 0;
    let timer = null;
    const read = () => Object.fromEntries(
      Object.entries(inputs).map(([k, input]) => [k, Math.round(Number(input.value))]));

    function stop() {
      if (timer !== null) clearInterval(timer);
      timer = null;
      play.textContent = "▶ Play";
    }

    function draw() {
      const { n, k, s, p, cin, cout } = read();
      const bad = [n, k, s, cin, cout].some((v) => !(v >= 1)) || !(p >= 0);
      const out = bad ? null : outputSize(n, k, s, p);
      const note = bad ? "Every value must be a whole number: sizes, stride and channels at least 1, padding at least 0." : explain(n, k, s, p);
      message.textContent = note;
      message.classList.toggle("cx-invalid", out === null);
      figure.innerHTML = "";
      if (out === null) {
        size.textContent = bad ? "" : `H_out = ⌊(${n} + 2·${p} − ${k}) / ${s}⌋ + 1: undefined, the kernel does not fit.`;
        counts.innerHTML = "";
        root.dataset.outputSize = "";
        [play, step].forEach((b) => (b.disabled = true));
        stop();
        return;
      }
      [play, step].forEach((b) => (b.disabled = false));
      root.dataset.outputSize = String(out);
      size.textContent = `H_out = W_out = ⌊(${n} + 2·${p} − ${k}) / ${s}⌋ + 1 = ${out}` +
        `, so the layer outputs ${cout} × ${out} × ${out}.`;
      const c = paramCounts(cin, cout, k, n, s, p);
      counts.innerHTML =
        "<caption>Parameters for a " + `${cin}×${n}×${n} input and a ${cout}×${out}×${out} output</caption>` +
        "<tr><th>Layer</th><th>Weights</th><th>Biases</th><th>Total</th></tr>" +
        `<tr><td>Convolutional: C_out·C_in·K·K + C_out</td><td>${fmt(c.convWeights)}</td><td>${fmt(cout)}</td><td data-count="conv">${fmt(c.conv)}</td></tr>` +
        `<tr><td>Fully connected: (inputs)·(outputs) + outputs</td><td>${fmt(c.denseWeights)}</td><td>${fmt(c.outputs)}</td><td data-count="dense">${fmt(c.dense)}</td></tr>`;

      const padded = n + 2 * p;
      const cell = 22, gap = 40;
      const width = padded * cell + gap + out * cell + 2;
      const height = Math.max(padded, out) * cell + 24;
      figure.setAttribute("viewBox", `-3 -2 ${width + 5} ${height + 4}`);
      figure.setAttribute("aria-label",
        `Padded input ${padded}×${padded} with the ${k}×${k} kernel at output position ${position + 1} of ${out * out}; output ${out}×${out}.`);
      const total = out * out;
      position = Math.min(position, total - 1);
      const row = Math.floor(position / out), col = position % out;
      element("text", { x: 0, y: 12, class: "cx-label" }, figure).textContent = "padded input";
      element("text", { x: padded * cell + gap, y: 12, class: "cx-label" }, figure).textContent = "output";
      for (let i = 0; i < padded; i++) {
        for (let j = 0; j < padded; j++) {
          const isPad = i < p || j < p || i >= p + n || j >= p + n;
          element("rect", { x: j * cell, y: 20 + i * cell, width: cell - 2, height: cell - 2,
            class: isPad ? "cx-pad" : "cx-in" }, figure);
        }
      }
      element("rect", { x: col * s * cell - 1, y: 20 + row * s * cell - 1, width: k * cell, height: k * cell,
        class: "cx-window" }, figure);
      for (let i = 0; i < out; i++) {
        for (let j = 0; j < out; j++) {
          const index = i * out + j;
          element("rect", { x: padded * cell + gap + j * cell, y: 20 + i * cell, width: cell - 2, height: cell - 2,
            class: index < position ? "cx-done" : index === position ? "cx-now" : "cx-todo" }, figure);
        }
      }
    }

    function advance() {
      const out = outputSize(...["n", "k", "s", "p"].map((key) => read()[key]));
      if (out === null) return;
      position = (position + 1) % (out * out);
      draw();
    }

    play.addEventListener("click", () => {
      if (timer !== null) return stop();
      timer = setInterval(advance, 450);
      play.textContent = "❚❚ Pause";
    });
    step.addEventListener("click", () => { stop(); advance(); });
    reset.addEventListener("click", () => { stop(); position = 0; draw(); });
    form.addEventListener("input", () => { position = 0; draw(); });
    draw();
  }

  window.convExplorer = { outputSize, paramCounts, explain };
  const start = () => document.querySelectorAll(".conv-explorer").forEach(build);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
