package media_test

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/png"

	"github.com/wardhq/ward/internal/hashing/media"
)

func ExampleDecode() {
	var buf bytes.Buffer
	png.Encode(&buf, image.NewGray(image.Rect(0, 0, 640, 480)))

	img, format, err := media.Decode(buf.Bytes(), media.DefaultLimits)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(format, img.Bounds().Dx(), img.Bounds().Dy())

	// A header that claims more pixels than the limit is refused before
	// anything is allocated for them.
	_, _, err = media.Decode([]byte("P6 20000 20000 255\n"), media.DefaultLimits)
	fmt.Println(err)
	fmt.Println(errors.Is(err, media.ErrTooLarge))
	// Output:
	// png 640 480
	// image is 20000x20000 (400 megapixels), over the 50 megapixel limit: too large
	// true
}
