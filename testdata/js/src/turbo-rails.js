// Registers <turbo-cable-stream-source> and sets window.Turbo; the cable
// consumer comes from @rails/actioncable (bundled in), connecting to the
// <meta name="action-cable-url"> of the page, else /cable. window.TurboRails
// holds the package's exports (Turbo, cable).
export * from "@hotwired/turbo-rails"
