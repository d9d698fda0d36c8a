import { Controller, Get } from '@nestjs/common';
import { OPENAPI } from './openapi.js';

@Controller('docs')
export class DocsController {
  @Get()
  openapi() {
    return OPENAPI;
  }
}
