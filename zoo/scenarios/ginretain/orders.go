package ginretain

import (
	"hash/crc32"
	"net/http"

	"github.com/gin-gonic/gin"
)

// OrderAPI serves the order endpoints.
type OrderAPI struct{}

func (api *OrderAPI) createOrder(c *gin.Context) {
	raw, _ := c.Get(auditBodyKey)
	body, _ := raw.([]byte)
	c.JSON(http.StatusCreated, gin.H{
		"order":    c.Param("id"),
		"checksum": crc32.ChecksumIEEE(body),
		"bytes":    len(body),
	})
}

func newRouter(api *OrderAPI) *gin.Engine {
	r := gin.New()
	r.Use(gin.Recovery(), recordAudit)
	r.POST("/v1/orders/:id", api.createOrder)
	return r
}
