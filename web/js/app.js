// The web client's entry point. It reads /config.json to find the gateway's WebSocket.
const response = await fetch("/config.json");
const config = await response.json();
document.getElementById("app").dataset.wsUrl = config.ws_url;
