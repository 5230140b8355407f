// window.AnyCable: AnyCable's web client (createCable, createConsumer, …).
// createCable(url, {protocol: "actioncable-v1-ext-json"}) speaks the
// extended protocol (history, session recovery).
export * from "@anycable/web"
