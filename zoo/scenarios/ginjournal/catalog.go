package ginjournal

import (
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
)

// Variant is one purchasable form of a product.
type Variant struct {
	SKU   string `json:"sku"`
	Size  string `json:"size"`
	Color string `json:"color"`
	Stock int    `json:"stock"`
}

// Product is the catalogue's product document.
type Product struct {
	ID          string    `json:"id"`
	Title       string    `json:"title"`
	Description string    `json:"description"`
	Variants    []Variant `json:"variants"`
}

// CatalogAPI serves product documents.
type CatalogAPI struct {
	description string
	variants    []Variant
}

func newCatalogAPI(descBytes int) *CatalogAPI {
	api := &CatalogAPI{description: strings.Repeat("Soft organic cotton, relaxed fit. ", max(1, descBytes/34))}
	for i := 0; i < 40; i++ {
		api.variants = append(api.variants, Variant{SKU: "V-" + string(rune('A'+i%26)), Size: "M", Color: "navy", Stock: i})
	}
	return api
}

// getProduct renders one product document with its live stock.
func (api *CatalogAPI) getProduct(c *gin.Context) {
	api.checkStock(c.Param("id"))
	c.JSON(http.StatusOK, Product{
		ID:          c.Param("id"),
		Title:       "Crew neck tee " + c.Param("id"),
		Description: api.description,
		Variants:    api.variants,
	})
}

// checkStock stands for the inventory service call (30-50 ms).
func (api *CatalogAPI) checkStock(id string) {
	time.Sleep(time.Duration(30+len(id)%21) * time.Millisecond)
}

func newRouter(api *CatalogAPI) *gin.Engine {
	r := gin.New()
	r.Use(gin.Recovery(), journalRequests)
	r.GET("/v1/products/:id", api.getProduct)
	return r
}
