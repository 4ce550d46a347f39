// The daily bulletin: its print button (no inline handler: the Content-Security-Policy refuses those).

document.getElementById("print").addEventListener("click", () => window.print());
