package webui

// routes registers every route of the handler on its mux.
func (h *handler) routes() {
	h.pageRoutes()
}
