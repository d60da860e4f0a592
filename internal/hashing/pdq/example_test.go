package pdq_test

import (
	"fmt"
	"image"
	"image/color"

	"github.com/wardhq/ward/internal/hashing/pdq"
)

func Example() {
	img := image.NewGray(image.Rect(0, 0, 64, 64))
	for y := range 64 {
		for x := range 64 {
			img.SetGray(x, y, color.Gray{Y: uint8((x/8 + y/8) % 2 * 255)})
		}
	}
	h, quality := pdq.FromImage(img)
	fmt.Println(h, quality)

	other, _ := pdq.ParseHex(h.String())
	fmt.Println(pdq.Distance(h, other) <= pdq.MatchThreshold)
	// Output:
	// 00002a5500002a55025508777d0882fd0000d52857205f28085d5fa020ff5720 100
	// true
}
