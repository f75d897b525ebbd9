package webui

func (h *handler) pageRoutes() {}
