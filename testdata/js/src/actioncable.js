// window.ActionCable: Rails' Action Cable client (createConsumer, …), as its
// own UMD build names it.
export * from "@rails/actioncable"
